"""/schema in a real browser: the API description renders from the service's own files alone."""

from __future__ import annotations

from playwright.async_api import Page, expect


async def test_schema_renders_without_other_hosts(page: Page, watch):
    await page.goto("/schema")
    await expect(page.get_by_role("heading", name="The process is alive").first).to_be_visible(timeout=15_000)
    await expect(page).to_have_title("kundval: API description")
    assert watch.offsite == []
