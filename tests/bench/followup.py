"""Follow-up reports at Stockholm scale: twelve months of figures answered from the kept rows.

    python tests/bench/followup.py                    # 12 months, 11 settled, 200 000 visits
    python tests/bench/followup.py --settled 0        # every month only reconciled: 720 stale checks
    python tests/bench/followup.py --repeat 5 --keep  # best of five; keep the database

On a database of DATABASE_URL's server (default: the local PostgreSQL on 127.0.0.1:5432) named
kundval_bench_followup, made afresh:

1. Stockholm scale (followup.md 2): 60 providers and 20 000 customers a month, 400 of them new each
   month (so a year counts 24 400 distinct customers). Each month has a real run of every provider
   with its follow-up figures (run_followup) as `runs.save` keeps them: every customer in hemtjänst,
   30 % also in hemsjukvård, 10 % in hemrehab, 5 % in övrigt, 5 % with declined visits. These rows
   are inserted at the store level, not priced from visits: pricing twelve months of 2 M visits each
   is the month benchmark's work (tests/bench/month.py), and a report never reads visits.
2. The first `--settled` months are settled: a settlement per provider-month with its figures frozen
   as attesting freezes them (settlement_followup, sql/migrations/0011; the settlement's document is a
   stand-in, nothing here reads it). The other months are reconciled only, so each of their
   provider-months is checked for inputs changed since its run (`store/changes.since`, the check
   preparing a settlement makes).
3. `--visits` visits in the input table, stamped before the runs' marks, and as many again of a later
   month arriving after them: the change check must look past every one of those (a changed visit of
   another month never makes a run stale), so it does real work.

Then, in the service's role with a pool as the service has, as a `reader`: the twelve-month report
(`usecases/reports.followup_report`) and period over period, six months against six
(`period_over_period`), each encoded to JSON as the API sends it; best of `--repeat`. The goal is under
2 s for twelve months. Prints one table row per report, in the shape of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from service import db  # noqa: E402
from service.domain.followup import AREAS, LICENSED_CATEGORIES  # noqa: E402
from service.domain.principal import Principal  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.usecases import reports  # noqa: E402
from service.usecases.system import seed_defaults  # noqa: E402

TENANT = "kson"
NAME = "kundval_bench_followup"
PROVIDERS = 60
CUSTOMERS = 20_000
NEW_EACH_MONTH = 400
MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
AREA_SHARE = {"hemtjanst": 1, "hemsjukvard": 10 / 3, "hemrehab": 10, "ovrigt": 20}  # every n-th customer
READER = Principal(tenant_id=TENANT, role="reader", name="bench-reader")


def with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


def pnr(n: int) -> str:
    return f"19{40 + n % 50:02d}{n:08d}"[:12]


def figures_rows(run_id: object, month: int) -> list[tuple]:
    """One run_followup row per provider: the month's customers split over the providers."""
    first = month * NEW_EACH_MONTH
    customers: dict[int, list[int]] = {p: [] for p in range(PROVIDERS)}
    for n in range(first, first + CUSTOMERS):
        customers[n % PROVIDERS].append(n)
    rows = []
    for p, own in customers.items():
        by_area = {
            area: [pnr(n) for k, n in enumerate(own) if int(k % every) == 0]
            for area, every in AREA_SHARE.items()
        }
        granted = sum(600 + n % 900 for n in own)
        performed = granted * 87 // 100 - p * 50
        rows.append(
            (
                TENANT,
                run_id,
                f"p{p:02d}",
                str(granted),
                str(performed),
                len(own) // 7,
                {c: 40 + p + k for k, c in enumerate(LICENSED_CATEGORIES)},
                len(own) // 10,
                [pnr(n) for n in own[::20]],
                by_area,
                {area: f"{len(by_area[area]) * (1234 + p)}.{p:02d}" for area in AREAS},
            )
        )
    return rows


INSERT_FOLLOWUP = """
INSERT INTO run_followup (tenant_id, run_id, provider_id, granted_minutes, performed_minutes,
                          customers_below_target, licensed_visits, declined_visits, declined_customers,
                          customers_by_area, payout_by_area)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"""

# Visits of month `$2` (a date), `$3` of them, spread over the providers and customers.
INSERT_VISITS = """
INSERT INTO visits (tenant_id, provider_id, external_id, pnr, staff_id, staff_category, report_type,
                    started_at, ended_at, codes, method, status, content_hash)
SELECT $1, 'p' || lpad((n % 60)::text, 2, '0'), $4 || n, '19' || lpad((40 + n % 50)::text, 2, '0')
           || lpad(n::text, 8, '0'),
       'S' || (n % 2000), 'underskoterska', 'bistand',
       $2::timestamptz + (n % 27) * interval '1 day' + (n % 600) * interval '1 minute',
       $2::timestamptz + (n % 27) * interval '1 day' + (n % 600 + 30) * interval '1 minute',
       ARRAY['morgonhjalp'], 'tag', 'performed', '\\x00'::bytea
FROM generate_series(1, $3) AS n"""


async def build(owner_dsn: str, settled: int, visits: int) -> None:
    conn = await db.connect(owner_dsn)
    try:
        await db.migrate(conn)
        await seed_defaults(conn, TENANT)
        await conn.executemany(
            "INSERT INTO providers (tenant_id, id, orgnr, name) VALUES ($1, $2, $3, $4)",
            [(TENANT, f"p{p:02d}", f"55{p:08d}", f"Utförare {p}") for p in range(PROVIDERS)],
        )
        if visits:
            await conn.execute(INSERT_VISITS, TENANT, datetime(2024, 12, 1, 6, tzinfo=UTC), visits, "V")
        marks = {"visits": await conn.fetchval("SELECT last_value FROM input_change_seq")}
        for n, period in enumerate(MONTHS):
            run_id = await conn.fetchval(
                """INSERT INTO runs (tenant_id, id, period, kind, tariffs, started_by, started_at, finished_at,
                                     duration_ms, input_seq, input_marks, decision_seq, grand_total, summary)
                   VALUES ($1, gen_random_uuid(), $2, 'real', ARRAY['kson-2024'], 'bench', now(), now(), 0,
                           $3, $4, 0, 0, $5)
                   RETURNING id""",
                TENANT,
                period,
                marks["visits"],
                marks,
                {"providers": [], "discrepancy_counts": {}},
            )
            await conn.executemany(INSERT_FOLLOWUP, figures_rows(run_id, n))
            if n >= settled:
                continue
            for p in range(PROVIDERS):
                settlement = await conn.fetchval(
                    """INSERT INTO settlements (tenant_id, id, provider_id, period, run_id, status, prepared_by,
                                               total, totals, totals_by_area, accounts, tariffs)
                       VALUES ($1, gen_random_uuid(), $2, $3, $4, 'prepared', 'bench', 0, '{}', '{}', '{}',
                               ARRAY['kson-2024'])
                       RETURNING id""",
                    TENANT,
                    f"p{p:02d}",
                    period,
                    run_id,
                )
                await conn.execute(
                    """INSERT INTO settlement_followup
                       SELECT tenant_id, $2, provider_id, $3, run_id, granted_minutes, performed_minutes,
                              customers_below_target, licensed_visits, declined_visits, declined_customers,
                              customers_by_area, payout_by_area
                       FROM run_followup WHERE tenant_id = $1 AND run_id = $4 AND provider_id = $5""",
                    TENANT,
                    settlement,
                    period,
                    run_id,
                    f"p{p:02d}",
                )
                await conn.execute(
                    """UPDATE settlements SET status = 'settled', attested_by = 'bench', attested_at = now(),
                                             sha256 = repeat('0', 64), document = '{}'
                       WHERE tenant_id = $1 AND id = $2""",
                    TENANT,
                    settlement,
                )
        if visits:  # a later month's visits, arriving after every run
            await conn.execute(INSERT_VISITS, TENANT, datetime(2025, 1, 1, 6, tzinfo=UTC), visits, "L")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def measure(service_dsn: str, repeat: int) -> list[tuple[str, float, int]]:
    pool = await db.create_pool(service_dsn, Settings(database_url=service_dsn, pool_min=1, pool_max=2))
    out = []
    try:
        for label, call in (
            (
                "twelve months, per provider and the tenant",
                lambda conn: reports.followup_report(conn, READER, first=MONTHS[0], last=MONTHS[-1]),
            ),
            (
                "period over period, six months against six",
                lambda conn: reports.period_over_period(
                    conn,
                    READER,
                    first=MONTHS[6],
                    last=MONTHS[11],
                    compare_first=MONTHS[0],
                    compare_last=MONTHS[5],
                ),
            ),
        ):
            best = float("inf")
            size = 0
            for _ in range(repeat):
                started = time.perf_counter()
                async with pool.acquire() as conn, conn.transaction():
                    body = msgspec.json.encode(await call(conn))
                best = min(best, time.perf_counter() - started)
                size = len(body)
            out.append((label, best, size))
    finally:
        await pool.close()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--settled", type=int, default=11, help="months settled (of 12; default 11)")
    parser.add_argument("--visits", type=int, default=200_000, help="visits before and after the runs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{NAME}"')
        started = time.perf_counter()
        await build(with_database(server, NAME), args.settled, args.visits)
        print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        service = urlunsplit(
            urlsplit(with_database(server, NAME))._replace(
                netloc=f"{db.SERVICE_ROLE}@" + urlsplit(server).netloc.rpartition("@")[2]
            )
        )
        results = await measure(service, args.repeat)
        version = (await admin.fetchval("SHOW server_version")).split()[0]
        print(f"Python {platform.python_version()}, PostgreSQL {version}, {os.cpu_count()} CPUs")
        print(f"| report | months settled | visits | best of {args.repeat} | JSON |")
        print("|---|---:|---:|---:|---:|")
        for label, seconds, size in results:
            print(
                f"| {label} | {args.settled} | {2 * args.visits:,} | {seconds:.3f} s | {size / 1e3:.0f} kB |"
            )
    finally:
        if not args.keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
