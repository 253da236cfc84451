"""A run's progress (service/store/progress.py): written by every run, the API's too, done in the
transaction that stores the run; a failed run says why; a run whose process died is read as
interrupted and blocks nothing; two runs of one period at once both run, as before."""

from __future__ import annotations

import asyncio
from uuid import UUID

import asyncpg
import pytest

from schemas.reconcile import RunIn
from service import db
from service.domain.principal import Principal
from service.usecases import runs
from tests.api.test_reconcile_worked_month import call
from tests.api.test_reconcile_worked_month import month as month  # a fixture

ADMIN = Principal(tenant_id="kson", role="invoice_admin", name="anna")


async def progress_of(conn, run_id: str) -> dict:
    row = await conn.fetchrow(
        "SELECT period, provider_id, phase, recomputes, recomputed, state, error FROM run_progress"
        " WHERE run_id = $1",
        UUID(run_id),
    )
    return dict(row)


async def test_a_run_through_the_api_is_done_with_its_run_in_one_transaction(client, conn, month):
    run = await call(client, month["invoice_admin"], "POST", "/v1/runs", 201, json={"period": "2024-03"})
    assert await progress_of(conn, run["id"]) == {
        "period": "2024-03",
        "provider_id": None,
        "phase": "store",
        "recomputes": 0,
        "recomputed": 0,
        "state": "done",
        "error": None,
    }
    # Marked done where the run and its audit entry were written: the same transaction.
    same = await conn.fetchval(
        """SELECT p.xmin = r.xmin AND r.xmin = a.xmin FROM run_progress p, runs r, audit_log a
           WHERE p.run_id = r.id AND a.action = 'run.create' AND a.entity_ids = ARRAY[r.id::text]
             AND r.id = $1""",
        UUID(run["id"]),
    )
    assert same is True


async def test_two_runs_of_one_period_at_once_both_run_and_the_later_stored_is_current(client, conn, month):
    admin = month["invoice_admin"]
    first, second = await asyncio.gather(
        *(call(client, admin, "POST", "/v1/runs", 201, json={"period": "2024-03"}) for _ in range(2))
    )
    assert first["grand_total"] == second["grand_total"]
    states = [r["state"] for r in await conn.fetch("SELECT state FROM run_progress")]
    assert states == ["done", "done"]
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'run.create'") == 2
    later = await conn.fetchval("SELECT id FROM runs ORDER BY seq DESC LIMIT 1")
    lines = await call(client, admin, "GET", "/v1/periods/2024-03/providers/exempel-omsorg/lines")
    assert lines["run"] == str(later)


async def test_a_failed_run_says_why_and_stored_nothing(client, conn, month):
    refused = await client.post(
        "/v1/runs",
        json={"period": "2024-03", "provider": "nobody"},
        headers={"Authorization": month["invoice_admin"]},
    )
    assert refused.status_code == 404
    row = await conn.fetchrow("SELECT id, state, error, run_id FROM run_progress")
    assert (row["state"], row["error"], row["run_id"]) == ("failed", "no provider nobody", None)
    assert await conn.fetchval("SELECT count(*) FROM runs") == 0
    shown = await runs.run_progress(conn, ADMIN, row["id"])
    assert shown.state == "failed"


async def test_a_run_whose_process_died_is_interrupted_and_blocks_nothing(
    client, conn, month, database_url, settings
):
    dead = await runs.begin_run(conn, ADMIN, RunIn(period="2024-03"))
    alive = await runs.begin_run(conn, ADMIN, RunIn(period="2024-04", provider="exempel-omsorg"))
    listed = await call(client, month["auditor"], "GET", "/v1/runs/under-way")
    assert [(p["id"], p["period"], p["provider"], p["phase"], p["state"]) for p in listed["items"]] == [
        (str(dead), "2024-03", None, "read", "running"),
        (str(alive), "2024-04", "exempel-omsorg", "read", "running"),
    ]
    # Its process died during the read, eleven minutes ago: no word from it since.
    await conn.execute(
        "UPDATE run_progress SET updated_at = now() - interval '11 minutes' WHERE id = $1", dead
    )
    assert (await runs.run_progress(conn, ADMIN, dead)).state == "interrupted"
    listed = await call(client, month["invoice_admin"], "GET", "/v1/runs/under-way")
    assert [p["id"] for p in listed["items"]] == [str(alive)]
    # The month is run again as if nothing had happened; the one announced is carried out later.
    again = await call(client, month["invoice_admin"], "POST", "/v1/runs", 201, json={"period": "2024-03"})
    assert (await progress_of(conn, again["id"]))["state"] == "done"
    pool = await db.create_pool(database_url, settings)
    try:
        stored = await runs.start_run(pool, ADMIN, RunIn(period="2024-04", provider="exempel-omsorg"), alive)
    finally:
        await pool.close()
    assert (await runs.run_progress(conn, ADMIN, alive)).run == stored.id
    assert (await call(client, month["invoice_admin"], "GET", "/v1/runs/under-way"))["items"] == []


async def test_a_run_stopped_with_its_service_says_so_and_stored_nothing(
    client, conn, month, database_url, settings, owner_url
):
    """Stopped mid-store (the task cancelled, as a forced shutdown does): its progress says why."""
    holder = await asyncpg.connect(owner_url)
    held = holder.transaction()
    await held.start()
    await holder.execute("LOCK TABLE run_lines IN EXCLUSIVE MODE")  # the run waits to store its lines
    pool = await db.create_pool(database_url, settings)
    try:
        announced = await runs.begin_run(conn, ADMIN, RunIn(period="2024-03"))
        task = asyncio.create_task(runs.start_run(pool, ADMIN, RunIn(period="2024-03"), announced))
        for _ in range(200):
            if (await runs.run_progress(conn, ADMIN, announced)).phase == "store":
                break
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await held.rollback()
        await holder.close()
        await pool.close()
    stopped = await runs.run_progress(conn, ADMIN, announced)
    assert (stopped.phase, stopped.state, stopped.error) == (
        "store",
        "failed",
        "the service stopped while it ran",
    )
    assert await conn.fetchval("SELECT count(*) FROM runs") == 0
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'run.create'") == 0
