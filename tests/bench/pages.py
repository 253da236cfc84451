"""Every workplace page timed at scale (issue 13: each under 300 ms at Stockholm scale).

    python tests/bench/pages.py --reuse                       # Stockholm month, kept for the next time
    python tests/bench/pages.py --scale norrtalje --reuse     # the smaller month
    python tests/bench/pages.py --reuse --requests 20         # more requests per page

The month is loaded as tests/bench/month.py loads it (its `prepare`, so `--reuse` shares that
benchmark's database, kundval_bench_<scale> on DATABASE_URL's server) and reconciled if it has no
real run yet, or a ruling newer than its run (made by an earlier time of this benchmark). Then, in
this process, the service (`create_app`, connected as its own role) is asked for each page with a
logged-in invoice administrator's session: one request to warm up, then `--requests` timed ones,
each from sending the request to having the whole body. Last, one blocking discrepancy is ruled on
and the overview is timed again: every run is then older than the newest ruling, so it asks
`changes.since` about all of them. Prints median and p95 per page in the shape of
docs/benchmarks.md, and the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import asyncpg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from litestar.testing import AsyncTestClient  # noqa: E402

from schemas.reconcile import RulingIn, RunIn  # noqa: E402
from service import db  # noqa: E402
from service.app import create_app  # noqa: E402
from service.domain.principal import Principal  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.store import changes  # noqa: E402
from service.usecases import accounts, reviews  # noqa: E402
from service.usecases.runs import start_run  # noqa: E402
from tests.api.test_sessions import PASSWORD  # noqa: E402
from tests.bench.month import HISTORY, PERIOD, SCALES, TENANT, prepare  # noqa: E402

USER = "bench-admin"
LOGIN_CSRF = 'action="/login">\\s*<input type="hidden" name="_csrf" value="([^"]+)"'
BUDGET_MS = 300


def as_service(dsn: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"{db.SERVICE_ROLE}@{parts.netloc.rpartition('@')[2]}"))


async def ready(dsn: str) -> dict[str, str]:
    """The month reconciled (once), an administrator to log in as, and the ids the pages need."""
    conn = await db.connect(dsn)
    try:
        run = await conn.fetchval(
            "SELECT id FROM runs WHERE tenant_id = $1 AND period = $2 AND kind = 'real' ORDER BY seq DESC",
            TENANT,
            PERIOD,
        )
        ruled = await conn.fetchval(
            """SELECT max(d.seq) > max(r.decision_seq) FROM discrepancy_decisions d, runs r
               WHERE d.tenant_id = $1 AND r.tenant_id = $1 AND r.id = $2""",
            TENANT,
            run,
        )
        if run is None or ruled:
            pool = await db.create_pool(dsn, Settings(pool_min=1, pool_max=2))
            try:
                who = Principal(tenant_id=TENANT, role="invoice_admin", name="bench")
                started = time.perf_counter()
                run = (await start_run(pool, who, RunIn(period=PERIOD))).id
                print(f"  reconciled the month in {time.perf_counter() - started:.1f} s", flush=True)
            finally:
                await pool.close()
        # As autovacuum does soon after a run writes its rows: the planner then knows their numbers.
        await conn.execute("ANALYZE run_discrepancies, run_lines, discrepancies")
        if not await conn.fetchval(
            "SELECT 1 FROM users WHERE tenant_id = $1 AND username = $2", TENANT, USER
        ):
            async with conn.transaction():
                await accounts.create(
                    conn, Principal.cli(TENANT, "bench"), username=USER, role="invoice_admin",
                    name="Bench Admin", password=PASSWORD,
                )  # fmt: skip
        # The provider with the most lines, its first line, an undecided blocking discrepancy and a customer.
        provider = await conn.fetchval(
            """SELECT provider_id FROM run_lines WHERE tenant_id = $1 AND run_id = $2
               GROUP BY 1 ORDER BY count(*) DESC LIMIT 1""",
            TENANT,
            run,
        )
        line = await conn.fetchval(
            "SELECT id FROM run_lines WHERE tenant_id = $1 AND run_id = $2 AND provider_id = $3 AND kind = 'line' LIMIT 1",
            TENANT,
            run,
            provider,
        )
        found = await conn.fetchrow(
            """SELECT d.id, rd.pnr FROM run_discrepancies rd JOIN discrepancies d USING (tenant_id, key)
               WHERE rd.tenant_id = $1 AND rd.run_id = $2 AND rd.kind = 'blocking' AND rd.pnr IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM discrepancy_decisions x WHERE x.tenant_id = $1 AND x.key = rd.key)
               LIMIT 1""",
            TENANT,
            run,
        )
        ref = await conn.fetchval(
            "SELECT ref FROM customers WHERE tenant_id = $1 AND pnr = $2", TENANT, found["pnr"]
        )
        return {
            "run": str(run),
            "provider": provider,
            "line": str(line),
            "discrepancy": str(found["id"]),
            "ref": ref,
        }
    finally:
        await conn.close()


def pages(ids: dict[str, str]) -> list[tuple[str, str]]:
    p, prov = PERIOD, ids["provider"]
    return [
        ("Översikt", "/"),
        ("Avstämning", "/runs"),
        ("Körning", f"/runs/{ids['run']}"),
        ("Avvikelser, första sidan", f"/discrepancies?period={p}"),
        ("Avvikelser, sida 100", f"/discrepancies?period={p}&page=100"),
        ("Avvikelser, blockerande öppna", f"/discrepancies?period={p}&kind=blocking&status=open"),
        ("Avvikelser, en utförare", f"/discrepancies?period={p}&provider={prov}"),
        ("Avvikelser, en kund", f"/discrepancies?period={p}&customer={ids['ref']}"),
        ("Avvikelse", f"/discrepancies/{ids['discrepancy']}"),
        ("Fakturarader, största utföraren", f"/lines?period={p}&provider={prov}"),
        ("Fakturarad med spår", f"/lines/{ids['line']}"),
        ("Kund", f"/customers/{ids['ref']}?period={p}"),
        ("Attestering", "/settlements"),
        ("Uppföljning", f"/followup?from={p}&to={p}"),
        ("Uppföljning, period mot period", f"/followup?from={p}&to={p}&compare_from=2024-02"),
        ("Tariffer", "/tariffs"),
    ]


async def rule(dsn: str, discrepancy: str) -> None:
    """One ruling, as the queue makes it: from now on every run is older than the newest ruling."""
    conn = await db.connect(dsn)
    try:
        async with conn.transaction():
            await reviews.rule(
                conn,
                Principal(tenant_id=TENANT, role="invoice_admin", name="bench"),
                UUID(discrepancy),
                RulingIn(decision="reject", reason="bench: the overview after a ruling"),
                lambda code, parameters, text: code,  # the reply's explanation is not read here
            )
    finally:
        await conn.close()


def median_p95(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def stale_checks(dsn: str, run: str, requests: int) -> list[tuple[str, float, float]]:
    """`changes.since` alone, as the overview asks it, in two states the loaded month does not reach
    by itself, each made in a rolled-back transaction:

    - A year of runs: each provider's runs of twelve earlier months, every one older than all visits
      in the database (the month's and HISTORY's) and none with a visit of its own days (the month
      just before the first with visits reads that month's first day, so the twelve end a month
      earlier): the month's run with its visits mark set to before the first visit.
    - A registry sync: 1 000 customers changed after the month's runs."""
    conn = await db.connect(dsn)
    providers = [
        r["provider_id"]
        for r in await conn.fetch(
            "SELECT DISTINCT provider_id FROM run_lines WHERE tenant_id = $1 AND run_id = $2",
            TENANT,
            UUID(run),
        )
    ]
    year, month = map(int, PERIOD.split("-"))
    months = [year * 12 + month - 1 - n for n in range(HISTORY + 2, HISTORY + 14)]
    earlier = [f"{m // 12}-{m % 12 + 1:02d}" for m in months]
    cases = [
        (
            f"a year of earlier runs ({len(providers) * len(earlier)})",
            [
                # runs is append-only; its trigger is off for this one change, rolled back below.
                ("SET LOCAL session_replication_role = replica", ()),
                (
                    """UPDATE runs SET input_marks = input_marks || '{"visits": 0}'
                       WHERE tenant_id = $1 AND id = $2""",
                    (TENANT, UUID(run)),
                ),
            ],
            [(p, period, UUID(run)) for p in providers for period in earlier],
            False,
        ),
        (
            f"the month's runs ({len(providers)}) after 1 000 customers changed",
            [
                (
                    """UPDATE customers SET changed_seq = nextval('input_change_seq') WHERE tenant_id = $1
                         AND pnr IN (SELECT pnr FROM customers WHERE tenant_id = $1 ORDER BY pnr LIMIT 1000)""",
                    (TENANT,),
                )
            ],
            [(p, PERIOD, UUID(run)) for p in providers],
            True,
        ),
    ]
    out = []
    try:
        for name, change, asked, stale in cases:
            made = conn.transaction()
            await made.start()
            try:
                for statement, arguments in change:
                    await conn.execute(statement, *arguments)
                times = []
                for _ in range(requests + 1):  # the first warms up
                    started = time.perf_counter()
                    found = await changes.since(conn, TENANT, asked)
                    times.append((time.perf_counter() - started) * 1000)
                    assert any(c.inputs for c in found) == stale, name
            finally:
                await made.rollback()
            out.append((name, *median_p95(times[1:])))
    finally:
        await conn.close()
    return out


async def measure(dsn: str, ids: dict[str, str], requests: int) -> list[tuple[str, str, int, float, float]]:
    settings = Settings(
        database_url=as_service(dsn), log_format="json", log_level="warning", pool_min=1, pool_max=4
    )
    out = []
    after = ("Översikt, efter ett beslut", "/")
    async with AsyncTestClient(app=create_app(settings)) as client:
        form = await client.get("/login")
        token = re.search(LOGIN_CSRF, form.text).group(1)  # type: ignore[union-attr]
        logged = await client.post(
            "/login", data={"username": USER, "password": PASSWORD, "_csrf": token, "next": "/"}
        )
        assert logged.status_code in (200, 303), logged.text
        for name, path in [*pages(ids), after]:
            if (name, path) == after:
                await rule(dsn, ids["discrepancy"])
            first = await client.get(path)
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = await client.get(path)
                times.append((time.perf_counter() - started) * 1000)
            median, p95 = median_p95(times)
            out.append((name, path, first.status_code, median, p95))
            print(
                f"| {name} | `{path.split('?')[0]}` | {response.status_code} | {median:.0f} | {p95:.0f} |",
                flush=True,
            )
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", choices=list(SCALES), default="stockholm")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded database and reuse it")
    parser.add_argument("--requests", type=int, default=10, help="timed requests per page")
    args = parser.parse_args()
    server_dsn = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"kundval_bench_{args.scale}"
    dsn, loaded = await prepare(server_dsn, name, SCALES[args.scale], args.reuse)
    print(f"  {args.scale}: database {loaded['loaded']}", flush=True)
    try:
        ids = await ready(dsn)
        print(
            f"| page ({args.scale}) | path | status | median ms | p95 ms |\n|---|---|---:|---:|---:|",
            flush=True,
        )
        before = os.getloadavg()
        rows = await measure(dsn, ids, args.requests)
        for name, median, p95 in await stale_checks(dsn, ids["run"], args.requests):
            print(f"| changes.since, {name} | | | {median:.0f} | {p95:.0f} |", flush=True)
        print(f"load average (1, 5, 15 min) before: {before}, after: {os.getloadavg()}")
        slow = [r[0] for r in rows if r[4] > BUDGET_MS or r[2] != 200]
        print(f"over {BUDGET_MS} ms at p95 or not 200: {', '.join(slow) or 'none'}")
    finally:
        if not args.reuse:
            admin = await asyncpg.connect(server_dsn)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
