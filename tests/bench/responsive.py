"""Does the service answer while it reconciles a month? One run of the month through `POST /v1/runs`
against `kundval serve` in its own process, while a client asks `GET /health` of the same process
every 20 ms.

    python tests/bench/responsive.py                        # Stockholm month (loaded once, kept)
    python tests/bench/responsive.py --scale norrtalje

The month is loaded as tests/bench/month.py loads it (its `prepare`, with --reuse: the database
kundval_bench_<scale> on DATABASE_URL's server is shared with that benchmark and kept). Latency of
each health check is measured from when it was due (open loop), so a process that answers nothing
for a while shows it as the longest wait. Prints the run's wall time and the health checks' p50, p99
and max, and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from service import db  # noqa: E402
from service.store import apikeys  # noqa: E402
from tests.bench.ingest import start_server, wait_ready  # noqa: E402
from tests.bench.load import quantile  # noqa: E402
from tests.bench.month import PERIOD, SCALES, TENANT, prepare  # noqa: E402

EVERY = 0.02  # seconds between health checks


async def health_checks(base_url: str, running: asyncio.Event, out: list[float]) -> None:
    """GET /health every EVERY seconds while `running` is set; the latency of each from when it was due."""
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        due = time.perf_counter()
        while running.is_set():
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            response = await http.get("/health")
            assert response.status_code == 200, response.text
            out.append(time.perf_counter() - due)
            due = max(due + EVERY, time.perf_counter() - 1)  # after a long stall, go on from now


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", choices=list(SCALES), default="stockholm")
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    server_dsn = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    dsn, loaded = await prepare(server_dsn, f"kundval_bench_{args.scale}", SCALES[args.scale], True)
    print(f"  {args.scale}: database {loaded['loaded']}", flush=True)
    conn = await db.connect(dsn)
    try:
        _, key = await apikeys.create(conn, tenant_id=TENANT, role="invoice_admin", name="bench-responsive")
    finally:
        await conn.close()
    base_url = f"http://127.0.0.1:{args.port}"
    server = start_server(dsn, args.port)
    try:
        await wait_ready(base_url, server)
        before = os.getloadavg()
        running, latencies = asyncio.Event(), []
        running.set()
        checks = asyncio.create_task(health_checks(base_url, running, latencies))
        async with httpx.AsyncClient(base_url=base_url, timeout=600) as http:
            started = time.perf_counter()
            response = await http.post(
                "/v1/runs", json={"period": PERIOD}, headers={"Authorization": f"Bearer {key}"}
            )
            took = time.perf_counter() - started
        running.clear()
        await checks
        assert response.status_code == 201, response.text
        latencies.sort()
        print(
            f"| {args.scale} | run {took:.1f} s | {len(latencies)} health checks | "
            f"p50 {quantile(latencies, 0.5) * 1000:.0f} ms | p99 {quantile(latencies, 0.99) * 1000:.0f} ms | "
            f"max {latencies[-1] * 1000:.0f} ms |"
        )
        print(f"load average (1, 5, 15 min) before: {before}, after: {os.getloadavg()}")
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    asyncio.run(main())
