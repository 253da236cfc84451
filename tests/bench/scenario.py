"""`kundval scenario run` of a Norrtälje-scale month end to end (issue 11).

    python tests/bench/scenario.py                   # 1 500 customers, 5 providers
    python tests/bench/scenario.py --customers 300   # a quicker run

Generates the month (service/scenario_synth.py, seeded), writes it as a scenario file and times
`kundval scenario run FILE --output OUT` in its own process against DATABASE_URL's server (default:
the local PostgreSQL on 127.0.0.1:5432): a fresh database, the load through the HTTP API (the
registry import and the batch routes), the reconciliation and the result document.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from service import db  # noqa: E402
from service.scenario_synth import generate, scenario  # noqa: E402
from tests.bench.ingest import machine  # noqa: E402
from tests.conftest import with_user  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--providers", type=int, default=5)
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    # As in production: the owner's URL makes, migrates and drops the throwaway database, and the
    # service connects as its own role.
    env = {**os.environ, "DATABASE_URL": with_user(server, db.SERVICE_ROLE), "KUNDVAL_MIGRATION_URL": server}
    month = scenario(generate(customers=args.customers, providers=args.providers))
    with tempfile.TemporaryDirectory() as folder:
        source, output = Path(folder) / "month.json", Path(folder) / "result.json"
        source.write_bytes(msgspec.json.encode(month))
        print(
            f"scenario: {len(month['customers'])} customers, {len(month['decisions'])} decisions, "
            f"{len(month['visits'])} visits, {len(month['claims'])} claims; "
            f"{source.stat().st_size / 1024 / 1024:.1f} MiB",
            flush=True,
        )
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "service.cli", "scenario", "run", str(source), "--output", str(output)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"scenario run failed ({done.returncode}): {done.stderr[-2000:]}")
        result = msgspec.json.decode(output.read_bytes())
        print(f"scenario run: {elapsed:.1f} s end to end; grand total {result.get('grand_total')}")
        print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
