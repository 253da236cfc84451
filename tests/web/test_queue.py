"""The discrepancy queue without a browser: sorted by the amount at stake, filtered by customer, a
result per picked item in bulk (a refusal of one leaves the others decided), the CSV as the filters
say; each page the same discrepancies as the JSON API."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest

from service.scenario_load import load_scenario
from service.store import apikeys
from tests.api.test_load_worked_month import SCENARIO, scenario_keys
from tests.api.test_sessions import CSRF, log_in, make_user
from tests.conftest import auth

PERIOD = "2024-03"


@pytest.fixture
async def month(client, conn):
    keys = await scenario_keys(client, conn)
    await load_scenario(client, SCENARIO, keys)
    _, key = await apikeys.create(conn, tenant_id="kson", role="invoice_admin", name="runner")
    ran = await client.post("/v1/runs", json={"period": PERIOD}, headers=auth(f"Bearer {key}"))
    assert ran.status_code == 201, ran.text
    await make_user(conn)
    await log_in(client)
    return f"Bearer {key}"


def _rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


async def test_the_queue_sorts_by_amount_at_stake_and_exports_what_it_shows(client, month):
    rows = _rows((await client.get(f"/discrepancies.csv?period={PERIOD}")).content)
    api = await client.get(f"/v1/discrepancies?period={PERIOD}&limit=500", headers=auth(month))
    assert len(rows) == len(api.json()["items"]) > 20
    stakes = [Decimal(r["at_stake"].replace(",", ".")) for r in rows]
    assert stakes == sorted(stakes, reverse=True) and stakes[0] > 0
    assert {r["code"] for r in rows if r["code"] == "EXTRAORDINARY"} and next(
        Decimal(r["at_stake"].replace(",", ".")) for r in rows if r["code"] == "EXTRAORDINARY"
    ) == Decimal("2500.00")

    customer = next(r["customer"] for r in rows if r["customer"])
    only = _rows((await client.get(f"/discrepancies.csv?period={PERIOD}&customer={customer}")).content)
    assert only and {r["customer"] for r in only} == {customer}
    assert len(only) == sum(r["customer"] == customer for r in rows)
    page = await client.get(f"/discrepancies?period={PERIOD}&customer={customer}&kind=blocking")
    assert page.status_code == 200
    assert f'name="customer" value="{customer}"' in page.text  # the filter stays in the URL and form


async def test_bulk_gives_a_result_per_item(client, conn, month):
    found = (await client.get(f"/v1/discrepancies?period={PERIOD}&limit=500", headers=auth(month))).json()[
        "items"
    ]
    blocking = [d["id"] for d in found if d["kind"] == "blocking" and d["code"] != "EXTRAORDINARY"][:2]
    hard = next(d["id"] for d in found if d["kind"] == "hard")
    form = await client.get(f"/discrepancies?period={PERIOD}")
    csrf = CSRF.search(form.text).group(1)
    decided = await client.post(
        "/discrepancies/decisions",
        data={
            "_csrf": csrf,
            "period": PERIOD,
            "id": [*blocking, hard],
            "decision": "reject",
            "reason": "no record",
        },
    )
    assert decided.status_code == 200
    outcomes = re.search(
        r'<div class="message ok" role="status" id="outcomes">(.*?)</div>', decided.text, re.S
    ).group(1)
    assert "Beslutade 2 av 3." in outcomes
    assert f"{hard}: avvisad" in outcomes
    rulings = await conn.fetch("SELECT decided_by, reason FROM discrepancy_decisions")
    assert [(r["decided_by"], r["reason"]) for r in rulings] == [("anna", "no record")] * 2
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action LIKE 'discrepanc%' AND actor = 'anna'"
        )
        >= 2
    )


async def test_filters_and_pages_are_the_apis_discrepancies(client, conn, month):
    """Filtered, sorted and paged by the database: the status filter agrees with the API's, a
    customer's reference finds what its number finds, and the pages together are the whole list."""
    api = (await client.get(f"/v1/discrepancies?period={PERIOD}&limit=500", headers=auth(month))).json()[
        "items"
    ]
    picked = [d for d in api if d["kind"] == "blocking"][:2]
    for d in picked:
        ruled = await client.post(
            f"/v1/discrepancies/{d['id']}/decisions",
            json={"decision": "reject", "reason": "no record"},
            headers=auth(month),
        )
        assert ruled.status_code in (200, 201), ruled.text
    for status in ("open", "rejected"):
        shown = _rows((await client.get(f"/discrepancies.csv?period={PERIOD}&status={status}")).content)
        want = (
            await client.get(
                f"/v1/discrepancies?period={PERIOD}&status={status}&limit=500", headers=auth(month)
            )
        ).json()["items"]
        assert sorted(r["record"] for r in shown) == sorted(d["record"] for d in want)
    assert len(want) == 2

    every = _rows((await client.get(f"/discrepancies.csv?period={PERIOD}")).content)
    customer = next(r["customer"] for r in every if r["customer"])
    ref = await conn.fetchval("SELECT ref FROM customers WHERE pnr = $1", customer)
    by_ref = _rows((await client.get(f"/discrepancies.csv?period={PERIOD}&customer={ref}")).content)
    assert by_ref and {r["customer"] for r in by_ref} == {customer}

    seen = []
    for number in (1, 2, 3, 99):
        html = (await client.get(f"/discrepancies?period={PERIOD}&page={number}")).text
        seen.append(re.findall(r'id="detail-([0-9a-f-]{36})"', html))
    last = -(-len(every) // 50)
    assert len(seen[0]) == min(50, len(every))
    assert seen[3] == seen[last - 1] if last <= 3 else len(seen[3]) == len(every) - 50 * (last - 1)
    pages = [i for s in seen[:last] for i in s]
    assert len(pages) == len(set(pages)) == min(len(every), 150)
