"""/schema in a real browser: the API description renders from the service's own files alone."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.web.axe import assert_accessible

# axe on all of Redoc's 20 000 elements takes half a minute; the menu, the introduction and two
# operations (one with a request body) hold every kind of element the page has.
SAMPLE = [
    ".menu-content",
    ".api-content > :first-child",
    "[id='tag/system/operation/getHealth']",
    "[id='tag/registry/operation/createCustomer']",
]


async def test_schema_renders_without_other_hosts(page: Page, watch):
    await page.goto("/schema")
    await expect(page.get_by_role("heading", name="The process is alive").first).to_be_visible(timeout=15_000)
    await expect(page.locator("[id='tag/registry/operation/createCustomer']")).to_be_attached()
    await expect(page).to_have_title("kundval: API description")
    # Redoc always adds its maker's logo from cdn.redoc.ly; the page's policy blocks it in the browser.
    assert watch.offsite == []
    await assert_accessible(page, include=SAMPLE)
