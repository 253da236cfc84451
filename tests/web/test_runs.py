"""A run started on the page shows how far it has come, then its result.

The run is held in its last phase by a transaction that locks the table of lines (reads go on, the
run's insert of its lines waits), so the page is seen mid-run whatever the machine's speed."""

from __future__ import annotations

import re

import asyncpg
from playwright.async_api import Page, expect

from schemas.reconcile import RunIn
from service.domain.principal import Principal
from service.store import progress as store
from service.usecases import runs
from tests.web.axe import assert_accessible
from tests.web.test_workplace import PERIOD, PROVIDER, log_in, shot
from tests.web.test_workplace import month as month  # a fixture

ANNA = Principal(tenant_id="kson", role="invoice_admin", name="anna")


async def test_a_run_shows_its_progress_and_then_its_result(page: Page, server, month, owner_url, conn):
    await log_in(page, "anna")
    await page.get_by_role("link", name="Avstämning").click()
    await page.get_by_label("Period (ÅÅÅÅ-MM)").fill(PERIOD)
    holder = await asyncpg.connect(owner_url)
    held = holder.transaction()
    await held.start()
    try:
        await holder.execute("LOCK TABLE run_lines IN EXCLUSIVE MODE")
        await page.get_by_role("button", name="Starta körningen").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Körning av {PERIOD}")
        await expect(page).to_have_url(re.compile(r"/runs/progress/[0-9a-f-]{36}$"))
        progress = page.locator("#progress")
        await expect(progress).to_contain_text("Steg 3 av 3: Lagrar körningen.")
        await expect(progress.get_by_role("listitem")).to_have_text(
            ["Läser underlagen: klart", "Prissätter: klart", "Lagrar körningen: pågår"]
        )
        await expect(page.get_by_text("Startad")).to_contain_text("av anna, för alla utförare.")
        await assert_accessible(page)
        await shot(page, "03-avstamning-pagar")
        # Under way for everyone, on the runs page of any service process.
        other = await page.context.new_page()
        await other.goto("/runs")
        await expect(other.get_by_role("region", name="Pågående körningar")).to_contain_text(
            f"{PERIOD} för alla utförare, startad"
        )
        await other.close()
        assert await conn.fetchval("SELECT count(*) FROM runs") == 0
    finally:
        await held.rollback()
        await holder.close()

    # Stored: the page goes on to the result by itself.
    await expect(page.get_by_role("table", name="Summor per utförare")).to_contain_text(PROVIDER)
    run = await conn.fetchval("SELECT id FROM runs")
    await expect(page).to_have_url(re.compile(f"/runs/{run}$"))
    await page.goto("/runs")
    await expect(page.get_by_role("region", name="Pågående körningar")).to_have_count(0)


async def test_the_page_announces_each_step_once_and_stops_asking_when_a_run_fails(page: Page, month, conn):
    """The run's progress written as a run writes it, the page polling it: an unchanged step answers
    nothing (204), a new one its text, a failure its reason and the end of the polling (286)."""
    await log_in(page, "anna")
    announced = await runs.begin_run(conn, ANNA, RunIn(period=PERIOD))
    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status) if f"{announced}/status?" in r.url else None)
    await page.goto(f"/runs/progress/{announced}")
    progress = page.locator("#progress")
    await expect(progress).to_contain_text("Steg 1 av 3: Läser underlagen.")
    await page.wait_for_timeout(2_500)  # two polls or so, the run where it was
    assert len(answers) >= 1 and set(answers) == {204}
    await store.step(conn, "kson", announced, "price", 0)
    await expect(progress).to_contain_text("Steg 2 av 3: Prissätter.")
    await store.failed(conn, "kson", announced, "no provider nobody")
    await expect(progress).to_contain_text(
        "Körningen misslyckades: no provider nobody. Den lagrades inte; starta den igen"
    )
    assert answers[-1] == 286 and 200 in answers
    asked = len(answers)
    await page.wait_for_timeout(2_500)
    assert len(answers) == asked  # no more polls
    await assert_accessible(page)

    # A run whose process died: not heard from for ten minutes, it is interrupted, and not asked after.
    dead = await runs.begin_run(conn, ANNA, RunIn(period=PERIOD))
    await conn.execute(
        "UPDATE run_progress SET updated_at = now() - interval '11 minutes' WHERE id = $1", dead
    )
    await page.goto(f"/runs/progress/{dead}")
    await expect(progress).to_contain_text("Körningen avbröts (tjänsten stannade medan den pågick)")
    await expect(progress).not_to_have_attribute("hx-get", re.compile(".*"))
