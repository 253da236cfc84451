"""Screen 5, Kund, in a real browser: a customer of the worked month with the decisions, pauses,
enrolments and delegations valid in the period chosen (counted here from the data posted) and the
customer's lines of the period (the same as the JSON API's lines of each provider); every read
audited as the API audits it; for the auditor too (by default the last period with lines), never for a
reader; axe finds nothing serious."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
from playwright.async_api import Page, expect

from service.store import apikeys
from tests.api.test_load_worked_month import SCENARIO
from tests.conftest import auth
from tests.web.axe import assert_accessible
from tests.web.test_workplace import PERIOD, log_in, month, shot  # noqa: F401  (the fixture)
from tests.web.users import create_user

CUSTOMER = "193805149493"  # a decision, a pause and a delegation in March


def _valid(record: dict, period: str) -> bool:
    year, number = map(int, period.split("-"))
    first = date(year, number, 1)
    last = date(year + number // 12, number % 12 + 1, 1).toordinal() - 1
    return date.fromisoformat(record["from"]) <= date.fromordinal(last) and (
        record.get("to") is None or date.fromisoformat(record["to"]) >= first
    )


def _posted(kind: str, period: str) -> set[str]:
    """The ids of the customer's records of a kind valid on a day of the period, as posted."""
    return {x["id"] for x in SCENARIO[kind] if x["customer"] == CUSTOMER and _valid(x, period)}


async def _rows(page: Page, caption: str) -> list[list[str]]:
    table = page.get_by_role("table", name=caption)
    await expect(table).to_be_visible()
    return [
        [c.strip() for c in await row.locator("td").all_inner_texts()]
        for row in await table.locator("tbody tr").all()
    ]


def _amount(text: str) -> Decimal:
    return Decimal(text.replace("\xa0", "").replace(" ", "").replace("−", "-").replace(",", "."))


async def test_a_customer_in_a_period_with_its_records_and_lines(page: Page, server, month, conn):  # noqa: F811
    _, key = await apikeys.create(conn, tenant_id="kson", role="invoice_admin", name="runner")
    admin = auth(f"Bearer {key}")
    async with httpx.AsyncClient(base_url=server, timeout=120) as client:
        ran = await client.post("/v1/runs", json={"period": PERIOD}, headers=admin)
        assert ran.status_code == 201, ran.text
        lines = []
        for provider in SCENARIO["providers"]:
            url = f"/v1/periods/{PERIOD}/providers/{provider['id']}"
            paid = (await client.get(f"{url}/lines", headers=admin)).json()
            held = (await client.get(f"{url}/held", headers=admin)).json()
            lines += [x for x in paid["lines"] + paid["adjustments"] if x["customer"] == CUSTOMER]
            lines += [x for x in held["held"] if x["customer"] == CUSTOMER]
    ref = await conn.fetchval("SELECT ref FROM customers WHERE pnr = $1", CUSTOMER)
    before = await conn.fetchval("SELECT max(seq) FROM audit_log")

    await log_in(page, "anna")
    await page.goto(f"/customers/{ref}?period={PERIOD}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Kund {ref}")
    await expect(page.locator("dl.facts")).to_contain_text(CUSTOMER)

    decisions = await _rows(page, "Beslut (rader som gäller under perioden)")
    posted_lines = {
        line["id"]
        for d in SCENARIO["decisions"]
        if d["customer"] == CUSTOMER
        for line in d["lines"]
        if _valid(line, PERIOD)
    }
    assert {r[2] for r in decisions} == posted_lines and posted_lines
    for kind, caption in [
        ("pauses", "Uppehåll"),
        ("delegations", "Delegeringar"),
        ("enrolments", "Inskrivningar"),
    ]:
        shown = {r[1] for r in await _rows(page, caption) if len(r) > 1}
        assert shown == _posted(kind, PERIOD), kind
    assert _posted("pauses", PERIOD) and _posted("delegations", PERIOD)

    listed = [r for r in await _rows(page, "Periodens rader") if len(r) > 1]
    assert len(listed) == len(lines) > 0
    amounts = sorted(_amount(r[6]) for r in listed)
    assert amounts == sorted(Decimal(x.get("amount", x.get("amount_if_approved"))) for x in lines)
    await assert_accessible(page)
    await shot(page, "19-kund-period")

    # The reads of personal data, audited as the API audits them, each naming the customer.
    audited = await conn.fetch(
        "SELECT action, actor, entity_ids FROM audit_log WHERE seq > $1 AND entity_kind = 'customer'", before
    )
    assert {r["action"] for r in audited} == {
        "customer.read",
        "decision.list",
        "pause.list",
        "delegation.list",
        "lines.read",
    }
    assert {r["actor"] for r in audited} == {"anna"}
    assert all(r["entity_ids"] == [ref] for r in audited)

    # Another period: February has the delegation (from 1 February) but not the pause (10-14 March).
    await page.get_by_label("Period (ÅÅÅÅ-MM)").fill("2024-02")
    await page.get_by_role("button", name="Visa").click()
    await expect(page.get_by_role("heading", level=2)).to_have_text("Under 2024-02")
    assert {r[1] for r in await _rows(page, "Delegeringar") if len(r) > 1} == _posted(
        "delegations", "2024-02"
    )
    assert await _rows(page, "Uppehåll") == [["Inga under perioden."]]
    assert await _rows(page, "Periodens rader") == [["Inga under perioden."]]


async def test_the_auditor_reads_a_customer_and_a_reader_does_not(page: Page, server, month, conn):  # noqa: F811
    await create_user(conn, "ida", "auditor")
    await create_user(conn, "rut", "reader")
    ref = await conn.fetchval("SELECT ref FROM customers WHERE pnr = $1", CUSTOMER)
    _, key = await apikeys.create(conn, tenant_id="kson", role="invoice_admin", name="runner")
    async with httpx.AsyncClient(base_url=server, timeout=120) as client:
        ran = await client.post("/v1/runs", json={"period": PERIOD}, headers=auth(f"Bearer {key}"))
        assert ran.status_code == 201, ran.text
    await log_in(page, "ida")
    await page.goto(f"/customers/{ref}")  # no period: the last one with lines of the customer
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Kund {ref}")
    await expect(page.get_by_role("heading", level=2)).to_have_text(f"Under {PERIOD}")
    assert {r[1] for r in await _rows(page, "Uppehåll")} == _posted("pauses", PERIOD)
    await assert_accessible(page)
    await page.get_by_role("button", name="Logga ut").click()

    await log_in(page, "rut")
    response = await page.goto(f"/customers/{ref}?period={PERIOD}")
    assert response is not None and response.status == 403
    assert CUSTOMER not in await page.content()
