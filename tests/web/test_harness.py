"""The browser harness itself: a request to another host is blocked and recorded, not sent."""

from __future__ import annotations

from playwright.async_api import Page


async def test_the_watch_blocks_and_records_other_hosts(page: Page, watch):
    # A page of no policy (about:blank) asking for an image elsewhere (.invalid never resolves).
    await page.set_content('<img src="http://example.invalid/a.png" alt="">')
    await page.wait_for_load_state("load")
    assert watch.offsite == ["http://example.invalid/a.png"]
    assert not await page.evaluate("document.images[0].complete && document.images[0].naturalWidth > 0")
    watch.offsite.clear()  # seen; the fixture's own check at teardown would fail on it otherwise
