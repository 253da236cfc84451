"""Inputs changed since a run (domain.md 7b), one definition for preparing a period and for
recomputing a settled one (service/store/changes.py): narrowed to what can reach the provider's
lines. The worked month: exempel-omsorg (A) and skargardens-vard (B)."""

from service.scenario_load import load_scenario
from service.store import changes
from tests.api import test_settlement_cycle as cycle
from tests.api.ingestion import customer, register
from tests.api.test_settlement_cycle import EXEMPEL, call, run

SKARGARD = "skargardens-vard"
PNR_3 = "193001239825"  # chose B, then A from 2024-03-16; A executes D3 from 2024-03-18

keys = cycle.keys  # the worked month loaded through the API, with two invoice_admins


def visit(visit_id: str, pnr: str) -> dict:
    return {
        "id": visit_id,
        "customer": pnr,
        "staff": "S9",
        "staff_category": "vardbitrade",
        "report_type": "bistand",
        "start": "2024-03-21T10:00:00+01:00",
        "end": "2024-03-21T10:30:00+01:00",
        "codes": ["dusch"],
        "method": "tag",
        "status": "performed",
    }


async def stale(conn, march) -> dict[str, list[str]]:
    found = await changes.since(conn, "kson", [(p, "2024-03", march["id"]) for p in (EXEMPEL, SKARGARD)])
    return {c.provider_id: c.inputs for c in found if not c.rulings}


async def test_a_new_visit_of_another_provider_leaves_a_providers_run_current(client, conn, keys):
    march = await run(client, keys, "2024-03")
    assert await stale(conn, march) == {EXEMPEL: [], SKARGARD: []}

    await call(client, keys[SKARGARD], "POST", "/v1/visits", json=[visit("V90", PNR_3)])
    assert await stale(conn, march) == {EXEMPEL: [], SKARGARD: ["visits"]}
    # Preparing A is refused for its undecided discrepancies only, not for B's visit.
    refused = await call(
        client, keys["anna"], "POST", "/v1/settlements", 409, json={"provider": EXEMPEL, "period": "2024-03"}
    )
    assert refused["missing"] == ["10 blocking discrepancies undecided"]

    # A customer A has nothing to do with is registered: nothing of A's changed.
    await register(client, keys, customer("195001011237", provider=SKARGARD))
    assert (await stale(conn, march))[EXEMPEL] == []

    # A's own visit, and a zone of a customer A had in March (A executes D3 from 2024-03-18).
    await call(client, keys[EXEMPEL], "POST", "/v1/visits", json=[visit("V91", PNR_3)])
    ref = await conn.fetchval("SELECT ref FROM customers WHERE pnr = $1", PNR_3)
    await call(
        client,
        keys["registry"],
        "PUT",
        f"/v1/customers/{ref}/zones",
        json=[{"from": "2020-01-01", "zone": "landsbygd"}],
    )
    assert await stale(conn, march) == {
        EXEMPEL: ["customer_zones", "customers", "visits"],
        SKARGARD: ["customer_zones", "customers", "visits"],
    }
    refused = await call(
        client, keys["anna"], "POST", "/v1/settlements", 409, json={"provider": EXEMPEL, "period": "2024-03"}
    )
    assert f"inputs changed since run {march['id']}: customer_zones, customers, visits" in refused["missing"]


PNR_1 = "193805149493"  # A's customer in March: paused (PA1), enrolled, with A's claims (K06, K07)
# One record of each input that A's March lines read: A's own (of the period or the year), or of a
# customer A had in March.
OWN = f"provider_id = '{EXEMPEL}'"
RECORDS = {
    "insatser": "true",
    "customers": f"pnr = '{PNR_1}'",
    "customer_zones": f"pnr = '{PNR_1}'",
    "provider_choices": f"pnr = '{PNR_1}'",
    "decisions": f"pnr = '{PNR_1}'",
    "decision_lines": f"decision_id IN (SELECT id FROM decisions WHERE pnr = '{PNR_1}')",
    "pauses": f"pnr = '{PNR_1}'",
    "delegations": f"{OWN} AND valid_from < '2024-04-01'",
    "enrolments": f"{OWN} AND valid_from < '2024-04-01'",
    "executions": f"{OWN} AND valid_from < '2024-04-01'",
    "claims": f"{OWN} AND claim_date BETWEEN '2024-01-01' AND '2024-03-31'",
    "visits": f"{OWN} AND service_date BETWEEN '2024-03-01' AND '2024-03-31'",
}


async def test_every_input_a_providers_lines_read_makes_its_run_stale(client, conn, keys):
    await call(client, keys[EXEMPEL], "POST", "/v1/visits", json=[visit("V91", PNR_3)])
    march = await run(client, keys, "2024-03")
    assert await stale(conn, march) == {EXEMPEL: [], SKARGARD: []}
    assert set(RECORDS) == set(changes.INPUTS)
    for name, where in RECORDS.items():
        changing = conn.transaction()
        await changing.start()
        changed = await conn.execute(
            f"""UPDATE {name} SET changed_seq = nextval('input_change_seq')
                WHERE ctid = (SELECT ctid FROM {name} WHERE tenant_id = 'kson' AND {where} LIMIT 1)"""
        )
        assert changed == "UPDATE 1", name
        assert (await stale(conn, march))[EXEMPEL] == [name]
        await changing.rollback()
    assert await stale(conn, march) == {EXEMPEL: [], SKARGARD: []}

    # A's visit corrected from March into April: its earlier version was March's.
    moved = {**visit("V91", PNR_3), "start": "2024-04-05T10:00:00+02:00", "end": "2024-04-05T10:30:00+02:00"}
    correction = {"visit": moved, "reason": "fel dag"}
    await call(client, keys[EXEMPEL], "POST", "/v1/visits/V91/corrections", json=correction)
    assert (await stale(conn, march))[EXEMPEL] == ["visits"]
    # B's claim for a customer of A's claims uses up the same limits.
    claim = {"id": "K90", "type": "lakemedelsgenomgang", "date": "2024-03-05", "customer": PNR_1}
    await call(client, keys[SKARGARD], "POST", "/v1/claims", 201, json=claim)
    assert await stale(conn, march) == {EXEMPEL: ["claims", "visits"], SKARGARD: ["claims"]}


async def test_a_providers_visits_count_for_the_days_they_reach_into_the_period(client, conn, keys):
    """A visit of a later month leaves March's run current; one that began up to eight days before
    March and ended after 29 February (a visit lasts at most seven days) makes it stale."""
    march = await run(client, keys, "2024-03")

    def spanning(visit_id: str, start: str, end: str) -> dict:
        return {**visit(visit_id, PNR_1), "start": start, "end": end}

    later = spanning("V92", "2024-04-10T10:00:00+02:00", "2024-04-10T10:30:00+02:00")
    ended_before = spanning("V93", "2024-02-21T22:00:00+01:00", "2024-02-28T20:00:00+01:00")
    await call(client, keys[EXEMPEL], "POST", "/v1/visits", json=[later, ended_before])
    assert (await stale(conn, march))[EXEMPEL] == []

    reaching = spanning("V94", "2024-02-22T10:00:00+01:00", "2024-02-29T09:00:00+01:00")
    await call(client, keys[EXEMPEL], "POST", "/v1/visits", json=[reaching])
    assert (await stale(conn, march))[EXEMPEL] == ["visits"]


# One customer of A's for each way a provider has a customer in a period, and one it does not have.
HAD_BY = {
    "194001151010": "a visit",
    "194001152026": "an execution of the customer's decision",
    "194001153032": "an enrolment",
    "194001154048": "a claim of the year",
    "194001155052": None,
}


async def test_a_customers_change_reaches_the_runs_of_the_providers_that_had_the_customer(client, conn, keys):
    pnrs = list(HAD_BY)
    by_visit, by_execution, by_enrolment, by_claim, _ = pnrs
    await load_scenario(
        client,
        {
            "customers": [customer(pnr, provider=EXEMPEL) for pnr in pnrs],
            "decisions": [
                {
                    "id": "D90",
                    "customer": by_execution,
                    "lines": [
                        {"id": "D90-1", "code": "morgonhjalp", "category": "omsorg", "minutes": 30,
                         "occasions": "1", "per": "day", "from": "2024-01-01", "to": None}
                    ],
                    "executions": [{"provider": EXEMPEL, "from": "2024-01-10"}],
                }
            ],
            "enrolments": [
                {"id": "E90", "customer": by_enrolment, "provider": EXEMPEL, "area": "hemsjukvard",
                 "from": "2024-03-01", "to": None, "remiss": "REM-2024-0900"}
            ],
            "visits": [{**visit("V95", by_visit), "provider": EXEMPEL}],
            "claims": [
                {"id": "K95", "provider": EXEMPEL, "type": "sip", "date": "2024-02-07", "customer": by_claim,
                 "role": "lett"}
            ],
        },
        keys,
    )  # fmt: skip
    march = await run(client, keys, "2024-03")
    for pnr, had_by in HAD_BY.items():
        changing = conn.transaction()
        await changing.start()
        await conn.execute(
            "UPDATE customers SET changed_seq = nextval('input_change_seq') WHERE tenant_id = 'kson' AND pnr = $1",
            pnr,
        )
        assert ("customers" in (await stale(conn, march))[EXEMPEL]) == (had_by is not None), had_by
        await changing.rollback()
