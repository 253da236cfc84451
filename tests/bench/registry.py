"""Registry import benchmark: a Stockholm-sized export through HTTP (issue 11).

    python tests/bench/registry.py                     # 20 000 customers and 20 000 decisions
    python tests/bench/registry.py --customers 1500    # Norrtälje

Generates the registry of a synthetic month (service/scenario_synth.py, seeded: zones, choices,
decisions with their lines), creates a scratch database on DATABASE_URL's server (default: the
local PostgreSQL on 127.0.0.1:5432) with the month's providers, starts `kundval serve` in its own
process and measures:

1. the import: the export as one NDJSON request to `POST /v1/registry/import`, sent in 1 MiB chunks;
2. its replay: the same request again (everything unchanged);

and the service's resident memory when ready (VmRSS) and its peak (VmHWM) after both. The scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from service.scenario_load import registry_rows  # noqa: E402
from service.scenario_synth import Month, generate, scenario  # noqa: E402
from service.store import apikeys  # noqa: E402
from tests.bench.ingest import TENANT, create_database, drop, machine, start_server, wait_ready  # noqa: E402


def export(month: Month) -> bytes:
    """The month's registry as NDJSON rows of `POST /v1/registry/import`, customers first."""
    encode = msgspec.json.encode
    return b"\n".join(encode(r) for r in registry_rows(scenario(month))) + b"\n"


async def prepare(server_dsn: str, name: str, month: Month) -> tuple[str, str]:
    dsn, conn = await create_database(server_dsn, name)
    try:
        await conn.executemany(
            "INSERT INTO providers (tenant_id, id, orgnr, name) VALUES ($1, $2, $3, $4)",
            [(TENANT, *p) for p in month.providers],
        )
        _, key = await apikeys.create(conn, tenant_id=TENANT, role="registry", name="bench")
        return dsn, key
    finally:
        await conn.close()


async def post(http: httpx.AsyncClient, key: str, body: bytes) -> tuple[float, dict]:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]

    started = time.perf_counter()
    response = await http.post(
        "/v1/registry/import",
        content=chunks(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"},
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {response.text[:1000]}")
    return elapsed, response.json()


def rss_mb(pid: int, field: str = "VmHWM") -> float:
    """The process's peak (VmHWM) or current (VmRSS) resident set, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--providers", type=int, default=20)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    server_dsn = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

    print(f"generating the registry of {args.customers} customers ...", flush=True)
    month = generate(customers=args.customers, providers=args.providers, bistand_per_day=0.0)
    body = export(month)
    print(
        f"export: {len(month.customers)} customers, {len(month.decisions)} decisions, "
        f"{len(month.decision_lines)} lines; {len(body) / 1024 / 1024:.1f} MiB of NDJSON",
        flush=True,
    )
    os.environ["KUNDVAL_MAX_BODY_BYTES"] = str(max(len(body) + 1024, 16 * 1024 * 1024))
    name = f"kundval_bench_{uuid.uuid4().hex[:8]}"
    dsn, key = await prepare(server_dsn, name, month)
    server = None
    try:
        server = start_server(dsn, args.port)
        base_url = f"http://127.0.0.1:{args.port}"
        await wait_ready(base_url, server)
        print(f"service RSS when ready: {rss_mb(server.pid, 'VmRSS'):.0f} MiB", flush=True)
        async with httpx.AsyncClient(base_url=base_url, timeout=600) as http:
            first, created = await post(http, key, body)
            print(f"import: {first:.1f} s  {created['customers']} {created['decisions']}", flush=True)
            again, replay = await post(http, key, body)
            print(f"replay: {again:.1f} s  {replay['customers']} {replay['decisions']}", flush=True)
        print(f"service peak RSS: {rss_mb(server.pid):.0f} MiB")
        print(f"machine: {machine()}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        await drop(server_dsn, name)


if __name__ == "__main__":
    asyncio.run(main())
