"""The login page in a real browser: Swedish, labelled, usable by keyboard, accessible, switchable to
English, and built from the service's own files alone."""

from __future__ import annotations

import re
import tomllib

from playwright.async_api import Page, expect

from service.web.assets import STATIC_DIR
from tests.web.axe import assert_accessible


def _htmx_version() -> str:
    manifest = tomllib.loads((STATIC_DIR / "vendor.toml").read_text(encoding="utf-8"))
    return next(p["version"] for p in manifest["package"] if p["name"] == "htmx.org")


async def test_login_page_renders_in_swedish_with_labelled_fields(page: Page, watch):
    await page.goto("/login")
    await expect(page.locator("html")).to_have_attribute("lang", "sv")
    await expect(page).to_have_title("Logga in – kundval")
    for landmark in ["banner", "navigation", "main", "contentinfo"]:
        await expect(page.get_by_role(landmark)).to_have_count(1)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Logga in")
    # Each field is found by its label's text, so label and field are associated.
    await expect(page.get_by_label("Användarnamn")).to_have_attribute("autocomplete", "username")
    await expect(page.get_by_label("Lösenord")).to_have_attribute("type", "password")
    await expect(page.get_by_role("button", name="Logga in")).to_be_visible()
    assert await page.evaluate("htmx.version") == _htmx_version()
    await assert_accessible(page)
    assert watch.offsite == []


async def test_language_switch_is_remembered(page: Page):
    await page.goto("/login")
    await page.get_by_role("link", name="English").click()
    await expect(page).to_have_url(re.compile(r"/login\?lang=en$"))
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_label("Username")).to_be_visible()
    await assert_accessible(page)

    await page.goto("/login")  # the choice is kept in a cookie
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()

    await page.get_by_role("link", name="Svenska").click()
    await expect(page.locator("html")).to_have_attribute("lang", "sv")
    await page.goto("/login")
    await expect(page.get_by_role("button", name="Logga in")).to_be_visible()


async def test_keyboard_reaches_the_form_through_the_skip_link_with_a_visible_focus(page: Page):
    await page.goto("/login")
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Hoppa till huvudinnehållet")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()
    assert await skip.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"

    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Användarnamn")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Lösenord")).to_be_focused()
    await page.keyboard.press("Tab")
    button = page.get_by_role("button", name="Logga in")
    await expect(button).to_be_focused()
    assert await button.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
