"""The long API fuzz: tests/api/test_fuzz.py with many more examples and schemathesis' coverage phase.

    python tests/bench/fuzz.py                  # 40 examples per operation and caller, coverage phase on
    python tests/bench/fuzz.py --examples 100   # longer
    python tests/bench/fuzz.py --path '^/v1/visits'

Every operation of the app's own OpenAPI document is called in-process (ASGI) as an invoice_admin, a
provider and the registry, on a fresh database seeded by the test's fixtures (DATABASE_URL's server,
as for the suite, or an embedded one). Prints the requests generated, the operations reached, the 5xx
count and every operation whose replies did not match the document; exits non-zero if any did.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=40, help="generated examples per operation")
    parser.add_argument(
        "--max-rows", type=int, default=100, help="rows per generated batch (0: as documented)"
    )
    parser.add_argument("--path", help="only the paths matching this regular expression")
    parser.add_argument("--no-coverage", action="store_true", help="skip schemathesis' coverage phase")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "fuzz.json"
        env = {
            **os.environ,
            "FUZZ_EXAMPLES": str(args.examples),
            "FUZZ_MAX_ROWS": str(args.max_rows),
            "FUZZ_COVERAGE": "0" if args.no_coverage else "1",
            "FUZZ_RANDOM": "1",
            "FUZZ_REPORT": str(report),
        }
        if args.path:
            env["FUZZ_PATH"] = args.path
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:logging", "tests/api/test_fuzz.py"]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        figures = json.loads(report.read_text(encoding="utf-8")) if report.exists() else None

    failed = sorted(set(re.findall(r"^SUBFAILED .*?\[(.+?)\]", result.stdout, re.M)))
    if figures is None:
        print(result.stdout[-4000:], result.stderr[-4000:], sep="\n")
        return 1
    print(f"requests generated: {figures['requests']}")
    print(f"operations:         {figures['operations']}")
    print(f"5xx:                {figures['server_errors']}")
    for sample in figures["server_error_samples"]:
        print(f"  {sample}")
    print(f"not as documented:  {len(failed)} operations")
    for label in failed:
        print(f"  {label}")
    print(f"duration:           {seconds:.0f} s ({figures['requests'] / seconds:.0f} requests/s)")
    return 0 if result.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
