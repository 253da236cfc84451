"""How far each run has come (sql/migrations/0014): written by the run as it goes, read by any
service process.

A row is 'running' from the start of its run until the run is stored (`done`, in the run's own
transaction) or fails (`failed`). A process that dies mid-run cannot say so; a row not updated for
STALLED is read as interrupted. No phase takes near that long (a Stockholm month's longest, reading
its inputs, takes about 15 s), and nothing waits on a row, so an interrupted run blocks nothing: the
month is simply run again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import msgspec

STALLED = timedelta(minutes=10)


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    period: str
    provider_id: str | None
    forced_tariff: str | None
    started_by: str
    started_at: datetime
    updated_at: datetime
    phase: str  # read, price, recompute, store
    recomputes: int
    recomputed: int
    state: str  # running, done, failed, interrupted (running, but not updated for STALLED)
    run_id: UUID | None
    error: str | None


_COLUMNS = ", ".join(
    f"CASE WHEN state = 'running' AND updated_at < now() - $2::interval THEN 'interrupted' ELSE state END AS {f}"
    if f == "state"
    else f
    for f in Progress.__struct_fields__
)


def _progress(row: asyncpg.Record) -> Progress:
    return Progress(**dict(row))


async def begin(
    conn: asyncpg.Connection,
    tenant: str,
    run: UUID,
    *,
    period: str,
    provider: str | None,
    forced: str | None,
    started_by: str,
) -> None:
    await conn.execute(
        """INSERT INTO run_progress (tenant_id, id, period, provider_id, forced_tariff, started_by, phase)
           VALUES ($1, $2, $3, $4, $5, $6, 'read')""",
        tenant,
        run,
        period,
        provider,
        forced,
        started_by,
    )


async def step(conn: asyncpg.Connection, tenant: str, run: UUID, phase: str, recomputes: int) -> None:
    await conn.execute(
        """UPDATE run_progress SET phase = $3, recomputes = greatest(recomputes, $4), updated_at = now()
           WHERE tenant_id = $1 AND id = $2""",
        tenant,
        run,
        phase,
        recomputes,
    )


async def recomputed(conn: asyncpg.Connection, tenant: str, run: UUID) -> None:
    """One more settled period recomputed (in the transaction that stores it)."""
    await conn.execute(
        """UPDATE run_progress SET recomputed = recomputed + 1, updated_at = now()
           WHERE tenant_id = $1 AND id = $2""",
        tenant,
        run,
    )


async def done(conn: asyncpg.Connection, tenant: str, run: UUID, stored: UUID) -> None:
    """The run is stored as `stored` (in the transaction that stores it)."""
    await conn.execute(
        """UPDATE run_progress SET state = 'done', run_id = $3, updated_at = now()
           WHERE tenant_id = $1 AND id = $2""",
        tenant,
        run,
        stored,
    )


async def failed(conn: asyncpg.Connection, tenant: str, run: UUID, error: str) -> None:
    await conn.execute(
        """UPDATE run_progress SET state = 'failed', error = $3, updated_at = now()
           WHERE tenant_id = $1 AND id = $2 AND state = 'running'""",
        tenant,
        run,
        error,
    )


async def get(conn: asyncpg.Connection, tenant: str, run: UUID) -> Progress | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM run_progress WHERE tenant_id = $1 AND id = $3", tenant, STALLED, run
    )
    return _progress(row) if row else None


async def running(conn: asyncpg.Connection, tenant: str) -> list[Progress]:
    """The runs under way (not interrupted), oldest first."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM run_progress
            WHERE tenant_id = $1 AND state = 'running' AND updated_at >= now() - $2::interval
            ORDER BY started_at""",
        tenant,
        STALLED,
    )
    return [_progress(r) for r in rows]
