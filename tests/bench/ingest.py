"""Ingestion benchmark: visits end to end through HTTP against the physical baseline.

    python tests/bench/ingest.py                    # 1 000 000 visits
    python tests/bench/ingest.py --visits 200000    # a quicker run

Creates a scratch database on DATABASE_URL's server (default: the local PostgreSQL on
127.0.0.1:5432) and N synthetic visits, then measures, on the same empty `visits` table with the
same indexes:

1. baseline: `copy_records_to_table` of the already built rows, one COPY and commit per batch,
   on `--concurrency` connections;
2. end to end: `kundval serve` in its own process (uvicorn, loopback port), the same visits posted
   as JSON arrays of 10 000 rows, bodies encoded before the clock starts, `--concurrency` requests
   in flight.

Prints visits/s of both and their ratio. The scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from service import db  # noqa: E402
from service.domain.identity import luhn_valid  # noqa: E402
from service.store import apikeys  # noqa: E402
from service.usecases.system import seed_defaults  # noqa: E402
from service.usecases.visits import content_hash  # noqa: E402
from tests.conftest import with_user  # noqa: E402

TENANT, PROVIDER = "kson", "bench-omsorg"
CODES = {
    "bistand": ["morgonhjalp", "kvallshjalp", "dusch", "tillsyn", "stadning"],
    "hsl_delegated": ["lakemedel", "ogondroppar", "insulin"],
}


def pnrs(count: int, rng: random.Random) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        head = f"19{rng.randrange(20, 50):02d}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{rng.randrange(1000):03d}"
        check = next(str(c) for c in range(10) if luhn_valid(head[2:] + str(c)))
        out.append(head + check)
    return out


def synthetic_visits(count: int, customers: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    people = pnrs(customers, rng)
    first = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)
    visits = []
    for n in range(count):
        start = first + timedelta(minutes=rng.randrange(29 * 24 * 60))
        report_type = "bistand" if rng.random() < 0.85 else "hsl_delegated"
        visits.append(
            {
                "id": f"V{n:08d}",
                "customer": people[n % customers],
                "staff": f"S{rng.randrange(2000)}",
                "staff_category": rng.choice(("vardbitrade", "underskoterska")),
                "report_type": report_type,
                "start": start.isoformat(),
                "end": (start + timedelta(minutes=rng.choice((10, 15, 20, 30, 45)))).isoformat(),
                "codes": [rng.choice(CODES[report_type])],
                "method": "tag",
                "status": "performed",
            }
        )
    return visits


def baseline_rows(visits: list[dict]) -> list[tuple]:
    """The rows as the service stores them (hash included), built before the clock starts."""
    rows = []
    for v in visits:
        start, end = datetime.fromisoformat(v["start"]), datetime.fromisoformat(v["end"])
        digest = content_hash(
            v["customer"],
            v["staff"],
            v["staff_category"],
            v["report_type"],
            start,
            end,
            v["codes"],
            "tag",
            v["status"],
        )
        rows.append(
            (
                TENANT,
                PROVIDER,
                v["id"],
                v["customer"],
                v["staff"],
                v["staff_category"],
                v["report_type"],
                start,
                end,
                v["codes"],
                v["method"],
                v["status"],
                digest,
            )
        )
    return rows


COLUMNS = [
    "tenant_id",
    "provider_id",
    "external_id",
    "pnr",
    "staff_id",
    "staff_category",
    "report_type",
    "started_at",
    "ended_at",
    "codes",
    "method",
    "status",
    "content_hash",
]


async def run_baseline(dsn: str, rows: list[tuple], batch: int, concurrency: int) -> float:
    """COPY the built rows, one batch per transaction, on as many connections as the HTTP run has
    requests in flight (so both use PostgreSQL alike)."""
    batches = [rows[i : i + batch] for i in range(0, len(rows), batch)][::-1]

    async def worker(conn: asyncpg.Connection) -> None:
        while batches:
            records = batches.pop()
            async with conn.transaction():
                await conn.copy_records_to_table("visits", records=records, columns=COLUMNS)

    async with asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency) as pool:
        connections = [await pool.acquire() for _ in range(concurrency)]
        started = time.perf_counter()
        await asyncio.gather(*(worker(conn) for conn in connections))
        elapsed = time.perf_counter() - started
        conn = connections[0]
        assert await conn.fetchval("SELECT count(*) FROM visits") == len(rows)
        await conn.execute("TRUNCATE visits")
        await conn.execute("VACUUM ANALYZE visits")
        for conn in connections:
            await pool.release(conn)
    return elapsed


async def run_http(base_url: str, key: str, bodies: list[bytes], concurrency: int) -> tuple[float, int]:
    queue = list(reversed(bodies))
    inserted = 0

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal inserted
        while queue:
            body = queue.pop()
            response = await http.post(
                "/v1/visits",
                content=body,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
            inserted += response.json()["inserted"]

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=300, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return time.perf_counter() - started, inserted


def with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path="/" + name))


async def prepare(server_dsn: str, name: str) -> tuple[str, str]:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = with_database(server_dsn, name)
    conn = await db.connect(dsn)
    try:
        await db.migrate(conn)
        await seed_defaults(conn, TENANT)
        await conn.execute(
            "INSERT INTO providers (tenant_id, id, orgnr, name) VALUES ($1, $2, '5566778899', 'Bench Omsorg AB')",
            TENANT,
            PROVIDER,
        )
        _, key = await apikeys.create(
            conn, tenant_id=TENANT, role="provider", name="bench", provider_id=PROVIDER
        )
        return dsn, key
    finally:
        await conn.close()


async def drop(server_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def start_server(dsn: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        # As in production: the service's role, and the owner's URL for migrations.
        "DATABASE_URL": with_user(dsn, db.SERVICE_ROLE),
        "KUNDVAL_MIGRATION_URL": dsn,
        "KUNDVAL_PORT": str(port),
        "KUNDVAL_LOG_LEVEL": "warning",
        "KUNDVAL_LOG_FORMAT": "json",
    }
    return subprocess.Popen([sys.executable, "-m", "service.cli", "serve"], cwd=ROOT, env=env)


async def wait_ready(base_url: str, server: subprocess.Popen) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        for _ in range(600):
            if server.poll() is not None:
                raise RuntimeError("the server exited during start-up")
            try:
                if (await http.get("/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become ready")


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} CPUs ({cpu}){memory}, Python {platform.python_version()}"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    server_dsn = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    print(f"building {args.visits} visits ...", flush=True)
    visits = synthetic_visits(args.visits, args.customers)
    rows = baseline_rows(visits)
    bodies = [msgspec.json.encode(visits[i : i + args.batch]) for i in range(0, len(visits), args.batch)]
    del visits

    name = f"kundval_bench_{uuid.uuid4().hex[:8]}"
    dsn, key = await prepare(server_dsn, name)
    server = None
    try:
        conn = await asyncpg.connect(dsn)
        version = (await conn.fetchval("SHOW server_version")).split()[0]
        await conn.close()
        baseline = await run_baseline(dsn, rows, args.batch, args.concurrency)
        server = start_server(dsn, args.port)
        base_url = f"http://127.0.0.1:{args.port}"
        await wait_ready(base_url, server)
        elapsed, inserted = await run_http(base_url, key, bodies, args.concurrency)
        if inserted != len(rows):
            raise RuntimeError(f"{inserted} of {len(rows)} visits stored")
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        await drop(server_dsn, name)

    base_rate, http_rate = len(rows) / baseline, len(rows) / elapsed
    print(f"machine:   {machine()}, PostgreSQL {version}")
    print(f"visits:    {len(rows)} in batches of {args.batch}, {args.concurrency} at a time (both runs)")
    print(f"baseline:  {base_rate:10.0f} visits/s  (copy_records_to_table, {baseline:.1f} s)")
    print(f"HTTP:      {http_rate:10.0f} visits/s  (end to end, {elapsed:.1f} s)")
    print(f"ratio:     {http_rate / base_rate:10.2f}")


if __name__ == "__main__":
    asyncio.run(main())
