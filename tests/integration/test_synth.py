"""The benchmark's synthetic month (tests/bench): seeded, loadable through the bulk paths, and
reconciled by the engine with totals that are sums of rounded lines."""

from decimal import Decimal

from schemas.reconcile import RunIn
from service import db
from service.domain.principal import Principal
from service.scenario_synth import generate
from service.usecases.runs import start_run
from tests.bench.month import load_claims, load_registry, load_visits


def test_the_generator_is_deterministic_for_a_seed():
    assert generate(30, 2, seed=7) == generate(30, 2, seed=7)
    assert generate(30, 2, seed=7).visits != generate(30, 2, seed=8).visits


async def test_a_small_month_loads_through_the_bulk_paths_and_reconciles(conn, database_url, settings):
    month = generate(30, 2, "2024-03", seed=3)
    await load_registry(conn, month)
    await load_visits(database_url, month)
    await load_claims(conn, month)
    assert await conn.fetchval("SELECT count(*) FROM visits") == len(month.visits)

    pool = await db.create_pool(database_url, settings)
    try:
        who = Principal(tenant_id="kson", role="invoice_admin", name="test")
        run = await start_run(pool, who, RunIn(period="2024-03"))
    finally:
        await pool.close()
    amounts = await conn.fetch(
        "SELECT kind, amount FROM run_lines WHERE tenant_id = 'kson' AND run_id = $1", run.id
    )
    assert any(a["kind"] == "line" for a in amounts)
    assert all(a["amount"] == a["amount"].quantize(Decimal("0.01")) for a in amounts)
    assert run.grand_total == sum(a["amount"] for a in amounts if a["kind"] != "held") > 0
    audited = "SELECT count(*) FROM audit_log WHERE action = 'run.create' AND entity_ids = ARRAY[$1::text]"
    assert await conn.fetchval(audited, str(run.id)) == 1
