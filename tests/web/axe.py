"""axe-core in a page: the accessibility check every screen passes (no serious or critical finding).

axe runs its default rules (WCAG 2.0, 2.1 A and AA, and best practices) on the rendered page. The
vendored copy is served from /static so that the test can add it to a page as a script of the
service's own, which the page's Content-Security-Policy allows; no page of the service loads it.
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from service.web.assets import static_url

BLOCKING = ("serious", "critical")


async def violations(page: Page, include: list[str] | None = None) -> list[dict[str, Any]]:
    """What axe finds in the page, or only in the parts matching the CSS selectors `include`."""
    await page.add_script_tag(url=static_url("axe.min.js"))
    context = {"include": [[selector] for selector in include]} if include else None
    return await page.evaluate(
        "async (context) => (await axe.run(context || document, {resultTypes: ['violations']})).violations",
        context,
    )


async def assert_accessible(page: Page, include: list[str] | None = None) -> None:
    found = [v for v in await violations(page, include) if v["impact"] in BLOCKING]
    assert not found, "axe found:\n" + "\n".join(
        f"- {v['impact']} {v['id']}: {v['help']} at {[n['target'] for n in v['nodes']]}" for v in found
    )
