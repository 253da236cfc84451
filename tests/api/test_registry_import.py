"""The registry import (issue 11): the case system's export in one request, all or nothing, with the
sync semantics of domain.md 3 (identical records unchanged, changed ones corrected)."""

import asyncio
import hashlib

import httpx
import msgspec

from service import serving
from service.app import create_app
from service.scenario_load import registry_rows
from tests.api.test_load_worked_month import SCENARIO, scenario_keys
from tests.api.test_settlement_cycle import (
    EXEMPEL,
    MARCH_ADJUSTMENTS,
    PNR_1,
    adjustments,
    call,
    run,
    settle_march,
)
from tests.api.test_settlement_cycle import keys as keys
from tests.conftest import auth

URL = "/v1/registry/import"
ROWS = registry_rows(SCENARIO)
N_CUSTOMERS = len(SCENARIO["customers"])
N_DECISIONS = len(SCENARIO["decisions"])


async def _import(client, key, rows, expect=200, ndjson=False):
    if ndjson:
        body = b"\n".join(msgspec.json.encode(r) for r in rows)
        kwargs = {"content": body, "headers": {**auth(key), "Content-Type": "application/x-ndjson"}}
    else:
        kwargs = {"json": rows, "headers": auth(key)}
    response = await client.post(URL, **kwargs)
    assert response.status_code == expect, response.text
    return response.json()


async def test_an_export_imports_and_its_replay_changes_nothing(client, conn):
    keys = await scenario_keys(client, conn)
    first = await _import(client, keys["registry"], ROWS, ndjson=True)
    assert first["received"] == len(ROWS)
    assert first["customers"] == {"created": N_CUSTOMERS, "changed": 0, "unchanged": 0}
    assert first["decisions"] == {"created": N_DECISIONS, "changed": 0, "unchanged": 0}
    assert await conn.fetchval("SELECT count(*) FROM decision_lines") == sum(
        len(d["lines"]) for d in SCENARIO["decisions"]
    )
    d1 = await call(client, keys["registry"], "GET", "/v1/decisions/D1")
    assert [line["minutes"] for line in d1["lines"]] == ["30", "90"]

    seq = await conn.fetchval("SELECT max(seq) FROM audit_log")
    marks = await conn.fetchval("SELECT last_value FROM input_change_seq")
    again = await _import(client, keys["registry"], ROWS)
    assert again["customers"] == {"created": 0, "changed": 0, "unchanged": N_CUSTOMERS}
    assert again["decisions"] == {"created": 0, "changed": 0, "unchanged": N_DECISIONS}
    assert again["changed_customers"] == again["changed_decisions"] == []
    [entry] = await conn.fetch("SELECT * FROM audit_log WHERE seq > $1", seq)
    assert (entry["action"], entry["entity_kind"]) == ("registry.import", "registry_batch")
    assert entry["payload_sha256"] == hashlib.sha256(msgspec.json.encode(ROWS)).hexdigest()
    assert await conn.fetchval("SELECT last_value FROM input_change_seq") == marks  # nothing stale

    # A changed choice and a new line are corrections, audited per record with before and after.
    customer = {**ROWS[0], "choices": [{"from": "2024-01-01", "to": "2024-03-31", "provider": EXEMPEL}]}
    d1_rows = next(r for r in ROWS if r.get("id") == "D1")
    extra = {**d1_rows["lines"][0], "id": "D1-9", "from": "2024-04-01"}
    decision = {**d1_rows, "lines": [*d1_rows["lines"], extra]}
    changed = await _import(client, keys["registry"], [customer, decision])
    assert changed["customers"] == {"created": 0, "changed": 1, "unchanged": 0}
    assert changed["decisions"] == {"created": 0, "changed": 1, "unchanged": 0}
    assert changed["changed_decisions"] == ["D1"] and len(changed["changed_customers"]) == 1
    actions = [
        r["action"] for r in await conn.fetch("SELECT action FROM audit_log ORDER BY seq DESC LIMIT 3")
    ]
    assert actions == ["registry.import", "decision.line.add", "customer.import"]


async def test_a_batch_with_bad_rows_names_them_all_and_stores_nothing(client, conn):
    keys = await scenario_keys(client, conn)
    customers = [r for r in ROWS if r["kind"] == "customer"]
    decisions = [r for r in ROWS if r["kind"] == "decision"]
    bad_customer = {
        **customers[1],
        "pnr": "193805149494",
        "choices": [{"from": "2024-01-01", "provider": "nobody"}],
    }
    bad_line = {**decisions[0]["lines"][0], "id": "X-1", "code": "flyghjalp", "minutes": 0}
    bad_decision = {**decisions[1], "customer": "194001019803", "lines": [bad_line]}
    rows = [customers[0], bad_customer, *customers[2:], decisions[0], bad_decision, *decisions[2:]]
    problem = await _import(client, keys["registry"], rows, 422, ndjson=True)
    bad_row = len(customers) + 1  # the second decision
    assert {(e["row"], e["field"]) for e in problem["errors"]} == {
        (1, "pnr"),
        (1, "choices[0].provider"),
        (bad_row, "lines[0].code"),
        (bad_row, "lines[0].minutes"),
    }
    assert "nothing of this batch was stored" in problem["detail"]
    # A decision for a customer neither stored nor in the batch is named too.
    unknown = await _import(client, keys["registry"], [{**decisions[0], "customer": "194001019803"}], 422)
    assert [(e["row"], e["field"]) for e in unknown["errors"]] == [(0, "customer")]
    for table in ("customers", "customer_zones", "provider_choices", "decisions", "decision_lines"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'registry.import'") == 0


async def test_a_line_changed_by_the_export_after_settlement_is_adjusted_next_month(client, conn, keys):
    march = await settle_march(client, keys)
    assert march["status"] == "settled"
    d1 = next(r for r in ROWS if r.get("id") == "D1")
    lines = [{**d1["lines"][0], "minutes": 40}, *d1["lines"][1:]]
    replay = await _import(client, keys["registry"], ROWS)
    assert replay["decisions"]["changed"] == 0  # the same export again: nothing changed
    export = [r if r.get("id") != "D1" else {**d1, "lines": lines} for r in ROWS]
    changed = await _import(client, keys["registry"], export)
    assert changed["changed_decisions"] == ["D1"] and changed["decisions"]["unchanged"] == N_DECISIONS - 1
    april = await run(client, keys, "2024-04")
    result = await call(client, keys["anna"], "GET", f"/v1/runs/{april['id']}/result")
    wanted = {k: v for k, v in MARCH_ADJUSTMENTS.items() if k[3] == PNR_1}
    assert adjustments(result) == wanted
    block = next(p for p in result["providers"] if p["provider"] == EXEMPEL)
    omsorg = next(x for x in block["adjustments"] if x["component"] == "omsorg")
    assert omsorg["sources"] == ["D1", "D1-1"]


async def test_two_imports_of_the_same_export_at_once_take_turns(client, conn, settings):
    """Both create the same customers and decisions: the first stores them, the second, waiting
    for it, finds them unchanged (no unique violation, no 5xx)."""
    keys = await scenario_keys(client, conn)
    # Served by uvicorn: the test client would run the two requests one after the other.
    settings = msgspec.structs.replace(settings, port=0)
    async with (
        serving.in_process(create_app(settings), settings) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        first, second = await asyncio.gather(
            *(http.post(URL, json=ROWS, headers=auth(keys["registry"])) for _ in range(2))
        )
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    replies = sorted((r.json() for r in (first, second)), key=lambda x: -x["customers"]["created"])
    assert [(x["customers"], x["decisions"]) for x in replies] == [
        (
            {"created": N_CUSTOMERS, "changed": 0, "unchanged": 0},
            {"created": N_DECISIONS, "changed": 0, "unchanged": 0},
        ),
        (
            {"created": 0, "changed": 0, "unchanged": N_CUSTOMERS},
            {"created": 0, "changed": 0, "unchanged": N_DECISIONS},
        ),
    ]
    assert await conn.fetchval("SELECT count(*) FROM customers") == N_CUSTOMERS
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'registry.import'") == 2


async def test_a_name_or_protection_changed_by_the_export_is_a_correction(client, conn):
    keys = await scenario_keys(client, conn)
    customers = [r for r in ROWS if r["kind"] == "customer"]
    await _import(client, keys["registry"], [{**customers[0], "protected": True}, *customers[1:]])
    # Without `protected` the stored flag stays: unchanged. A new name, or lifting the flag, changes.
    same = await _import(client, keys["registry"], customers)
    assert same["customers"] == {"created": 0, "changed": 0, "unchanged": N_CUSTOMERS}
    renamed = {**customers[1], "name": "Ny Namnsson"}
    lifted = {**customers[0], "protected": False}
    changed = await _import(client, keys["registry"], [lifted, renamed, *customers[2:]], ndjson=True)
    assert changed["customers"] == {"created": 0, "changed": 2, "unchanged": N_CUSTOMERS - 2}
    stored = await conn.fetch("SELECT pnr, name, protected, ref FROM customers ORDER BY pnr")
    by_pnr = {r["pnr"]: r for r in stored}
    assert changed["changed_customers"] == [by_pnr[lifted["pnr"]]["ref"], by_pnr[renamed["pnr"]]["ref"]]
    assert (by_pnr[lifted["pnr"]]["protected"], by_pnr[renamed["pnr"]]["name"]) == (False, "Ny Namnsson")
    actions = await conn.fetch("SELECT action FROM audit_log WHERE action = 'customer.correct'")
    assert len(actions) == 2
