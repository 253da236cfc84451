"""Load benchmark: provider systems posting claims and single visits against `kundval serve`.

    python tests/bench/load.py                          # 20 clients, 200 requests/s, 60 s
    python tests/bench/load.py --rate 100 --seconds 20  # a quicker run

Creates a scratch database on DATABASE_URL's server (default: the local PostgreSQL on
127.0.0.1:5432) with `--clients` providers, each with its own key and `--customers` customers who
chose it (loaded through `POST /v1/registry/import` before the clock starts), then starts
`kundval serve` in its own process, as in production (the service's role, rate limits at their
defaults). Each client is one provider's system on one keep-alive connection, sending on a fixed
schedule (open loop: `rate / clients` requests per second each, whether or not earlier replies
came back), alternately a claim (`POST /v1/claims`, a läkemedelsgenomgång) and a single visit
(`POST /v1/visits`, an array of one). Latency is measured from the scheduled send time, so a
server that falls behind shows it in the tail rather than hiding it by sending less.

Prints requests sent, throughput, p50/p90/p99/max latency per kind and overall, the count of any
status other than 201/200, and the CPU time the service process and its PostgreSQL connections
(when PostgreSQL runs on this machine) used per request: unlike latency, a figure that holds when
other work shares the machine. The scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from service.store import apikeys  # noqa: E402
from tests.bench.ingest import (  # noqa: E402
    TENANT,
    create_database,
    drop,
    machine,
    pnrs,
    start_server,
    wait_ready,
)

PERIOD_START = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)


async def prepare(server_dsn: str, name: str, clients: int) -> tuple[str, str, list[tuple[str, str]]]:
    """The scratch database with one provider and key per client, and a registry key."""
    dsn, conn = await create_database(server_dsn, name)
    try:
        providers = []
        for n in range(clients):
            provider = f"load-{n:02d}"
            await conn.execute(
                "INSERT INTO providers (tenant_id, id, orgnr, name) VALUES ($1, $2, $3, $4)",
                TENANT,
                provider,
                f"55667{n:05d}",
                f"Last {n} AB",
            )
            _, key = await apikeys.create(
                conn, tenant_id=TENANT, role="provider", name=provider, provider_id=provider
            )
            providers.append((provider, key))
        _, registry = await apikeys.create(conn, tenant_id=TENANT, role="registry", name="load-registry")
        return dsn, registry, providers
    finally:
        await conn.close()


async def load_registry(http: httpx.AsyncClient, key: str, people: dict[str, list[str]]) -> None:
    rows = [
        {
            "kind": "customer",
            "pnr": pnr,
            "zones": [{"from": "2020-01-01", "zone": "tatort"}],
            "choices": [{"from": "2024-01-01", "provider": provider}],
        }
        for provider, customers in people.items()
        for pnr in customers
    ]
    response = await http.post(
        "/v1/registry/import",
        content=msgspec.json.encode(rows),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    response.raise_for_status()


def claim(n: int, customer: str, rng: random.Random) -> tuple[str, bytes]:
    day = PERIOD_START.date() + timedelta(days=rng.randrange(28))
    body = {"id": f"K{n:07d}", "type": "lakemedelsgenomgang", "date": day.isoformat(), "customer": customer}
    return "/v1/claims", msgspec.json.encode(body)


def visit(n: int, customer: str, rng: random.Random) -> tuple[str, bytes]:
    start = PERIOD_START + timedelta(minutes=rng.randrange(28 * 24 * 60))
    body = {
        "id": f"V{n:07d}",
        "customer": customer,
        "staff": f"S{rng.randrange(200)}",
        "staff_category": "underskoterska",
        "report_type": "bistand",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=rng.choice((15, 20, 30)))).isoformat(),
        "codes": ["morgonhjalp"],
        "method": "tag",
        "status": "performed",
    }
    return "/v1/visits", msgspec.json.encode([body])


def requests(key: str, customers: list[str], seed: int, count: int) -> list[tuple[str, bytes]]:
    """One client's requests, built before the clock starts: alternately a claim and a visit."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        kind = ("claim", "visit")[n % 2]
        path, body = (claim if kind == "claim" else visit)(seed * 1_000_000 + n, rng.choice(customers), rng)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        out.append((kind, head.encode() + body))
    return out


async def response_status(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response with a Content-Length body; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(x.split(":", 1)[1]) for x in lines if x.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return int(lines[0].split(" ", 2)[1])


async def client(port: int, work: list[tuple[str, bytes]], every: float, first: float, out: list) -> None:
    """One provider's system on one keep-alive connection: request n is due at first + n * every. A
    request waits for the one before it (HTTP/1.1), and its latency counts from when it was due, so
    a server that falls behind shows it in the tail instead of being sent less (open loop).

    A hand-written HTTP/1.1 exchange, not httpx: a general client costs the one process that plays
    twenty systems about a millisecond of CPU per request, which made it the bottleneck."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)  # asyncio sets TCP_NODELAY
    try:
        for n, (kind, raw) in enumerate(work):
            due = first + n * every
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            writer.write(raw)
            try:
                status = await response_status(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                status = 0  # counted as failed; go on on a new connection
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            out.append((kind, time.perf_counter() - due, status))
    finally:
        writer.close()


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process (all its threads) has used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def backends(dsn: str) -> list[int]:
    """The PostgreSQL server processes connected to the scratch database (the service's pool); none
    when the server is on another machine (its process ids are not this machine's)."""
    if urlsplit(dsn).hostname not in (None, "", "localhost", "127.0.0.1", "::1"):
        return []
    conn = await asyncpg.connect(dsn)
    try:
        return [
            r["pid"]
            for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    finally:
        await conn.close()


def quantile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second, all clients")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--customers", type=int, default=50, help="per provider")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    server_dsn = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    name = f"kundval_load_{uuid.uuid4().hex[:8]}"
    dsn, registry, providers = await prepare(server_dsn, name, args.clients)
    everyone = pnrs(args.clients * args.customers, random.Random(5))
    people = {
        p: everyone[n * args.customers : (n + 1) * args.customers] for n, (p, _) in enumerate(providers)
    }
    server = None
    try:
        conn = await asyncpg.connect(dsn)
        version = (await conn.fetchval("SHOW server_version")).split()[0]
        await conn.close()
        server = start_server(dsn, args.port)
        base_url = f"http://127.0.0.1:{args.port}"
        await wait_ready(base_url, server)
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
            await load_registry(http, registry, people)
        out: list[tuple[str, float, int]] = []
        every = args.clients / args.rate
        count = int(args.seconds / every)
        work = [requests(key, people[p], seed, count) for seed, (p, key) in enumerate(providers)]
        # CPU used per request answered, by the service and by its database connections: unlike
        # latency, it holds when other work shares the machine.
        service_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
        started_cpu = {pid: cpu_seconds(pid) for pid in await backends(dsn)}
        started = time.perf_counter()
        await asyncio.gather(
            *(
                client(args.port, mine, every, started + seed * every / args.clients, out)
                for seed, mine in enumerate(work)
            )
        )
        elapsed = time.perf_counter() - started
        service_cpu = cpu_seconds(server.pid) - service_cpu
        client_cpu = time.process_time() - client_cpu
        # The pool opens connections as it needs them: those opened during the run count whole.
        database_cpu = sum(cpu_seconds(pid) - started_cpu.get(pid, 0.0) for pid in await backends(dsn))
        load = os.getloadavg()
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        await drop(server_dsn, name)

    print(f"machine:    {machine()}, PostgreSQL {version}")
    print(f"load:       {args.clients} clients, {args.rate:.0f} requests/s scheduled, {args.seconds:.0f} s")
    print(f"sent:       {len(out)} requests in {elapsed:.1f} s: {len(out) / elapsed:.1f} requests/s answered")
    print(
        f"CPU:        service {service_cpu / len(out) * 1000:.2f} ms per request, its PostgreSQL connections "
        f"{database_cpu / len(out) * 1000:.2f} ms, this client {client_cpu / len(out) * 1000:.2f} ms; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    failed = [status for _, _, status in out if status not in (200, 201)]
    print(f"failed:     {len(failed)} {sorted(set(failed)) if failed else ''}")
    for label, rows in [("claims", "claim"), ("visits", "visit"), ("all", None)]:
        times = sorted(t for kind, t, _ in out if rows is None or kind == rows)
        print(
            f"{label + ':':11} p50 {quantile(times, 0.5) * 1000:6.1f} ms   p90 {quantile(times, 0.9) * 1000:6.1f} ms"
            f"   p99 {quantile(times, 0.99) * 1000:6.1f} ms   max {times[-1] * 1000:6.1f} ms   (n={len(times)})"
        )


if __name__ == "__main__":
    asyncio.run(main())
