"""Inputs changed since a run (domain.md 7b), one definition for preparing a period and for
recomputing a settled one (service/store/changes.py): narrowed to what can reach the provider's
lines. The worked month: exempel-omsorg (A) and skargardens-vard (B)."""

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
