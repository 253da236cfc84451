"""Reconciliation at scale: a synthetic month loaded through the bulk paths, one run timed.

    python tests/bench/month.py                                  # Norrtälje, then Stockholm scale
    python tests/bench/month.py --scale norrtalje                # under a minute
    python tests/bench/month.py --scale stockholm --reuse        # load once, re-time the run after
    python tests/bench/month.py --reuse --repeat 3 --verbose     # best of three; slowest statements
    python tests/bench/month.py --scale stockholm --reuse --explain
    py-spy record -o run.svg -- python tests/bench/month.py --measure DSN   # profile one run

For each scale, on a database of DATABASE_URL's server (default: the local PostgreSQL on
127.0.0.1:5432) named kundval_bench_<scale>:

1. generate the month (service/scenario_synth.py, seeded) and load it through the bulk paths: the
   registry and provider records with `copy_records_to_table` into their tables (the registry's
   bulk path), the visits through `service.usecases.visits` exactly as `POST /v1/visits` does (a
   `Batch` per 10 000 rows of one provider, decoded and checked from the JSON body, merged through
   the staging table, audited), the claims through `service.usecases.claims`; then two earlier
   months of visits as history (see HISTORY) and VACUUM ANALYZE, as autovacuum would after a load;
2. in a process of its own (so that its peak RSS is the service's, not the generator's), with a
   pool as the service has: one aggregate scan of the month's visits (provider, customer,
   sum(duration)), then the reconciliation run exactly as `POST /v1/runs` makes it
   (`service.usecases.runs.start_run`), timing its wall clock, the time spent awaiting PostgreSQL (every
   query and COPY of the run, measured on the client), and its phases (read, price, store).

Prints one table row per scale, in the shape of docs/benchmarks.md. With --reuse the loaded
database is kept and reused while its generation parameters are unchanged (new migrations are applied
to it); without, it is made afresh and dropped at the end. --explain prints EXPLAIN (ANALYZE,
BUFFERS) of every statement the run reads with (in a rolled-back copy of the run's transaction).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from schemas import records as r  # noqa: E402
from service import db  # noqa: E402
from service.domain.periods import Period  # noqa: E402
from service.domain.principal import Principal  # noqa: E402
from service.scenario_synth import Month, generate  # noqa: E402
from service.usecases import claims, visits  # noqa: E402
from service.usecases.system import seed_defaults  # noqa: E402

TENANT = "kson"
PERIOD = "2024-03"
SEED = 1
# Earlier months of visits in the table, so that the run reads one month of a table that holds
# several (as in production) and plans accordingly. They are the month's visits copied 5, 10, ...
# weeks back with one INSERT ... SELECT: not measured, so not through the API's path.
HISTORY = 2
HISTORY_COPY = """
INSERT INTO visits (tenant_id, provider_id, external_id, pnr, staff_id, staff_category, report_type,
                    started_at, ended_at, codes, method, status, content_hash)
SELECT tenant_id, provider_id, 'H' || m || '-' || external_id, pnr, staff_id, staff_category, report_type,
       started_at - m * interval '35 days', ended_at - m * interval '35 days', codes, method, status,
       content_hash
FROM visits CROSS JOIN generate_series(1, $2) AS m
WHERE tenant_id = $1"""


@dataclass(frozen=True)
class Scale:
    customers: int
    providers: int
    bistand_per_day: float


# Norrtälje: about 100 000 registrations a month; Stockholm: about 2 000 000 (3 a customer-day).
SCALES = {"norrtalje": Scale(1_500, 5, 2.0), "stockholm": Scale(20_000, 60, 2.9)}

# Registry and provider records: table, columns (after tenant_id) in the order of synth.Month's tuples.
REGISTRY = [
    ("providers", "providers", ["id", "orgnr", "name"]),
    ("customers", "customers", ["pnr", "ref"]),
    ("zones", "customer_zones", ["pnr", "valid_from", "zone"]),
    ("choices", "provider_choices", ["pnr", "valid_from", "valid_to", "provider_id"]),
    ("decisions", "decisions", ["id", "pnr", "decided_on"]),
    (
        "decision_lines",
        "decision_lines",
        [
            "id",
            "decision_id",
            "insats_code",
            "category",
            "minutes",
            "occasions",
            "per",
            "valid_from",
            "valid_to",
        ],
    ),
    ("executions", "executions", ["provider_id", "external_id", "decision_id", "valid_from", "valid_to"]),
    ("pauses", "pauses", ["provider_id", "external_id", "pnr", "reason", "valid_from", "valid_to"]),
    (
        "enrolments",
        "enrolments",
        ["provider_id", "external_id", "pnr", "area", "valid_from", "valid_to", "remiss"],
    ),
    (
        "delegations",
        "delegations",
        ["provider_id", "external_id", "pnr", "insats_code", "valid_from", "valid_to"],
    ),
]
NUMERIC = {"minutes", "occasions"}


def with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


def provider_principal(provider: str) -> Principal:
    return Principal(tenant_id=TENANT, role="provider", name=f"bench-{provider}", provider_id=provider)


# -- loading ---------------------------------------------------------------------------------------


async def load_registry(conn: asyncpg.Connection, month: Month) -> None:
    for attr, table, columns in REGISTRY:
        numeric = [i for i, c in enumerate(columns) if c in NUMERIC]
        records = [
            (TENANT, *(Decimal(v) if i in numeric else v for i, v in enumerate(row)))
            for row in getattr(month, attr)
        ]
        await conn.copy_records_to_table(table, records=records, columns=["tenant_id", *columns])


async def load_visits(dsn: str, month: Month, concurrency: int = 2) -> None:
    """As POST /v1/visits: JSON bodies of at most 10 000 visits of one provider, each decoded and
    checked by a Batch and merged in a transaction of its own; two requests in flight."""
    by_provider: dict[str, list[dict]] = defaultdict(list)
    for visit in month.visits:
        by_provider[visit["provider"]].append(visit)
    bodies = [
        (provider, msgspec.json.encode(rows[i : i + visits.MAX_ROWS]))
        for provider, rows in by_provider.items()
        for i in range(0, len(rows), visits.MAX_ROWS)
    ][::-1]

    async def worker(conn: asyncpg.Connection) -> None:
        while bodies:
            provider, body = bodies.pop()
            async with conn.transaction():
                await visits.post_visits(conn, provider_principal(provider), body)

    connections = [await db.connect(dsn) for _ in range(concurrency)]
    try:
        await asyncio.gather(*(worker(c) for c in connections))
    finally:
        for c in connections:
            await c.close()


async def load_claims(conn: asyncpg.Connection, month: Month) -> None:
    """As POST /v1/claims, one claim at a time (a month has a few thousand)."""
    for claim in month.claims:
        body = msgspec.json.encode(claim)
        data = msgspec.json.decode(body, type=r.ClaimIn)
        async with conn.transaction():
            await claims.create_claim(conn, provider_principal(claim["provider"]), data, body)


async def prepare(server_dsn: str, name: str, scale: Scale, reuse: bool) -> tuple[str, dict[str, Any]]:
    """The loaded database: reused when --reuse finds one made with the same parameters."""
    generator = hashlib.sha256((ROOT / "service" / "scenario_synth.py").read_bytes()).hexdigest()[:12]
    tag = json.dumps(
        {"period": PERIOD, "seed": SEED, "synth": generator, "history": HISTORY, **asdict(scale)},
        sort_keys=True,
    )
    dsn = with_database(server_dsn, name)
    admin = await asyncpg.connect(server_dsn)
    try:
        found = await admin.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", name
        )
        if reuse and found == tag:
            conn = await db.connect(dsn)
            try:
                await db.migrate(conn)
            finally:
                await conn.close()
            return dsn, {"loaded": "reused"}
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()

    print(f"  generating {scale} ...", flush=True)
    started = time.perf_counter()
    month = generate(scale.customers, scale.providers, PERIOD, SEED, scale.bistand_per_day)
    generated = time.perf_counter() - started
    conn = await db.connect(dsn)
    try:
        await db.migrate(conn)
        await seed_defaults(conn, TENANT)
        print(f"  loading {len(month.visits)} visits ...", flush=True)
        started = time.perf_counter()
        await load_registry(conn, month)
        registry = time.perf_counter() - started
        started = time.perf_counter()
        await load_visits(dsn, month)
        visits = time.perf_counter() - started
        started = time.perf_counter()
        await load_claims(conn, month)
        claims = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute(HISTORY_COPY, TENANT, HISTORY)
        history = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        vacuum = time.perf_counter() - started
        await conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{tag}'")
    finally:
        await conn.close()
    return dsn, {
        "loaded": "fresh",
        "generate_s": round(generated, 1),
        "registry_s": round(registry, 1),
        "visits_s": round(visits, 1),
        "visits_per_s": round(len(month.visits) / visits),
        "claims_s": round(claims, 1),
        "history_s": round(history, 1),
        "vacuum_analyze_s": round(vacuum, 1),
    }


# -- measuring (in a process of its own) ----------------------------------------------------------


class DbClock:
    """Time spent awaiting PostgreSQL, per statement: every query method of asyncpg's Connection is
    wrapped (the pool's connections delegate to them), nested calls counted once."""

    METHODS = ("execute", "executemany", "fetch", "fetchrow", "fetchval", "copy_records_to_table")

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names  # SQL text -> query name (sql/reconcile/*.sql)
        self.total = 0.0
        self.by_statement: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self.depth = 0

    def label(self, args: tuple[Any, ...], method: str) -> str:
        text = args[0] if args and isinstance(args[0], str) else ""
        if method == "copy_records_to_table":
            return f"COPY {text}"
        name = self.names.get(text.strip().rstrip(";"))
        return name or " ".join(text.split())[:70]

    def install(self) -> None:
        for method in self.METHODS:
            original = getattr(asyncpg.connection.Connection, method)
            setattr(asyncpg.connection.Connection, method, self.wrap(original, method))

    def wrap(self, original: Any, method: str) -> Any:
        clock = self

        async def timed(conn: Any, *args: Any, **kwargs: Any) -> Any:
            if clock.depth:
                return await original(conn, *args, **kwargs)
            clock.depth += 1
            started = time.perf_counter()
            try:
                return await original(conn, *args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                clock.depth -= 1
                clock.total += elapsed
                entry = clock.by_statement[clock.label(args, method)]
                entry[0] += 1
                entry[1] += elapsed

        return timed


def rss_mb() -> float:
    """This process's peak resident set. VmHWM, not getrusage: Linux carries ru_maxrss over exec, so
    a child of the (large) generating process would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


SCAN = """SELECT provider_id, pnr, sum(ended_at - started_at) AS duration FROM visits
          WHERE tenant_id = $1 AND service_date >= $2 AND service_date < $3
          GROUP BY provider_id, pnr"""


async def measure(dsn: str, repeat: int) -> dict[str, Any]:
    """The scan, then `repeat` reconciliation runs of the month; the figures of the fastest."""
    import service.app  # noqa: F401  (the service's modules, so that the RSS is the service's)
    from schemas.reconcile import RunIn
    from service.reconcile import inputs, pricing
    from service.settings import Settings
    from service.store import runs
    from service.usecases.runs import start_run

    clock = DbClock({text: name for name, text in inputs.queries().items()})
    clock.install()
    phases: defaultdict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])  # wall, DB, peak RSS

    def phase(module: Any, attr: str, name: str, is_async: bool) -> None:
        original = getattr(module, attr)

        def account(started: float, db_before: float) -> None:
            phases[name][0] += time.perf_counter() - started
            phases[name][1] += clock.total - db_before
            phases[name][2] = rss_mb()

        if is_async:

            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started, db_before = time.perf_counter(), clock.total
                try:
                    return await original(*args, **kwargs)
                finally:
                    account(started, db_before)

            setattr(module, attr, timed_async)
        else:

            def timed_sync(*args: Any, **kwargs: Any) -> Any:
                started, db_before = time.perf_counter(), clock.total
                try:
                    return original(*args, **kwargs)
                finally:
                    account(started, db_before)

            setattr(module, attr, timed_sync)

    phase(inputs, "load", "read", True)
    phase(pricing, "price", "price", False)
    phase(runs, "save", "store", True)

    period = Period.parse(PERIOD)
    settings = Settings(database_url=dsn, pool_min=1, pool_max=2)
    pool = await db.create_pool(dsn, settings)
    try:
        async with pool.acquire() as conn:
            visits = await conn.fetchval(
                "SELECT count(*) FROM visits WHERE tenant_id = $1 AND service_date >= $2 AND service_date < $3",
                TENANT,
                period.first,
                period.end,
            )
            await conn.fetch(SCAN, TENANT, period.first, period.end)  # warm the cache alike for both
            scans = []
            for _ in range(3):
                started = time.perf_counter()
                await conn.fetch(SCAN, TENANT, period.first, period.end)
                scans.append(time.perf_counter() - started)
        rss_before = rss_mb()
        who = Principal(tenant_id=TENANT, role="invoice_admin", name="bench")
        best: dict[str, Any] | None = None
        for _ in range(repeat):
            clock.total = 0.0
            clock.by_statement.clear()
            phases.clear()
            started = time.perf_counter()
            row = await start_run(pool, who, RunIn(period=str(period)))
            wall = time.perf_counter() - started
            if best is None or wall < best["wall_s"]:
                best = {
                    "wall_s": wall,
                    "db_s": clock.total,
                    "phases": {k: [round(v[0], 2), round(v[1], 2), round(v[2])] for k, v in phases.items()},
                    "statements": sorted(
                        ([k, v[0], round(v[1], 3)] for k, v in clock.by_statement.items()),
                        key=lambda x: -x[2],
                    )[:15],
                    "grand_total": str(row.grand_total),
                    "counts": row.discrepancy_counts,
                }
                async with pool.acquire() as conn:
                    best["lines"] = await conn.fetchval(
                        "SELECT count(*) FROM run_lines WHERE tenant_id = $1 AND run_id = $2", TENANT, row.id
                    )
                best["discrepancies"] = sum(best["counts"].values())
    finally:
        await pool.close()
    assert best is not None
    return {
        **best,
        "visits": visits,
        "scan_s": min(scans),
        "rss_before_mb": rss_before,
        "peak_rss_mb": rss_mb(),
    }


# -- the report -------------------------------------------------------------------------------------


def machine(server_version: str) -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    except (OSError, ValueError, IndexError):
        memory = 0
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory:.0f} GiB RAM, Python {platform.python_version()}, "
        f"PostgreSQL {server_version}"
    )


def report(scale: str, spec: Scale, loaded: dict[str, Any], m: dict[str, Any], verbose: bool) -> None:
    ratio = m["wall_s"] / m["scan_s"]
    print(
        f"| {scale} | {spec.customers:,} | {spec.providers} | {m['visits']:,} | {m['lines']:,} | "
        f"{m['discrepancies']:,} | **{m['wall_s']:.2f}** | {m['db_s']:.2f} | {m['wall_s'] - m['db_s']:.2f} | "
        f"{m['peak_rss_mb']:.0f} | {m['scan_s']:.3f} | **{ratio:.1f}** |".replace(",", " ")
    )
    print(f"    phases (wall s, of which DB s, process peak RSS MB so far): {m['phases']}")
    print(f"    grand total {m['grand_total']} kr; discrepancies {m['counts']}")
    print(f"    load: {loaded}; RSS before the run {m['rss_before_mb']:.0f} MB")
    if verbose:
        for name, calls, seconds in m["statements"]:
            print(f"    {seconds:8.3f} s  {calls:5d}x  {name}")


class Explaining:
    """A connection that prints EXPLAIN (ANALYZE, BUFFERS) of each of the engine's statements as it
    runs it: a statement that only creates a temporary table runs under EXPLAIN alone, a query runs
    twice (the plan, then the rows)."""

    UNPLANNED = frozenset({"settings", "context_indexes", "visits_statistics"})

    def __init__(self, conn: asyncpg.Connection, names: dict[str, str]) -> None:
        self.conn, self.names = conn, names

    async def plan(self, query: str, *args: Any) -> str | None:
        name = self.names.get(query.strip().rstrip(";"))
        if name is None or name in self.UNPLANNED:
            return None
        rows = await self.conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {query}", *args)
        print(f"-- {name}\n" + "\n".join(row[0] for row in rows) + "\n", flush=True)
        return name

    async def execute(self, query: str, *args: Any) -> Any:
        if await self.plan(query, *args) is None:
            return await self.conn.execute(query, *args)
        return None

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        await self.plan(query, *args)
        return await self.conn.fetch(query, *args)


async def explain(dsn: str) -> None:
    """The plans of inputs.load's statements, in a transaction rolled back afterwards."""
    from service.reconcile import inputs
    from service.store import tariffs

    period = Period.parse(PERIOD)
    conn = await db.connect(dsn)
    transaction = conn.transaction(isolation="repeatable_read")
    await transaction.start()
    try:
        spans = await tariffs.spans(conn, TENANT, period.year_start, period.end)
        names = {text: name for name, text in inputs.queries().items()}
        await inputs.load(Explaining(conn, names), TENANT, period, None, spans)  # type: ignore[arg-type]
    finally:
        await transaction.rollback()
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", choices=[*SCALES, "both"], default="both")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded database and reuse it")
    parser.add_argument("--repeat", type=int, default=1, help="runs to time; the fastest is reported")
    parser.add_argument("--explain", action="store_true", help="print the plans of the run's queries")
    parser.add_argument("--verbose", action="store_true", help="print the slowest statements")
    parser.add_argument(
        "--measure",
        metavar="DSN",
        help="time a run on a loaded database in this process and print the figures as JSON "
        "(what the benchmark runs in a process of its own; for a profiler)",
    )
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(await measure(args.measure, args.repeat)))
        return

    server_dsn = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    admin = await asyncpg.connect(server_dsn)
    version = (await admin.fetchval("SHOW server_version")).split()[0]
    await admin.close()
    print(f"machine: {machine(version)}")
    print(
        "| scale | customers | providers | visits | lines | discrepancies | run s | DB s | Python s "
        "| peak RSS MB | scan s | run/scan |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        flush=True,
    )
    for scale in SCALES if args.scale == "both" else [args.scale]:
        spec = SCALES[scale]
        name = f"kundval_bench_{scale}"
        dsn, loaded = await prepare(server_dsn, name, spec, args.reuse)
        try:
            if args.explain:
                await explain(dsn)
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--measure",
                dsn,
                "--repeat",
                str(args.repeat),
                stdout=subprocess.PIPE,
            )
            out, _ = await child.communicate()
            if child.returncode:
                raise RuntimeError(f"the measuring process failed ({child.returncode})")
            measured = json.loads(out.decode().strip().splitlines()[-1])
            report(scale, spec, loaded, measured, args.verbose)
        finally:
            if not args.reuse:
                admin = await asyncpg.connect(server_dsn)
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
