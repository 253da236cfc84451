"""`kundval serve` end to end: embedded database, the README's walkthrough, and a clean stop."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
KUNDVAL = Path(sys.executable).parent / "kundval"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
            return response.status
    except OSError:
        return 0


def _walkthrough() -> str:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Walkthrough", 1)[1]
    return re.search(r"```sh\n(.+?)```", section, re.S).group(1)


def test_serve_runs_the_readme_walkthrough_and_stops_the_database(tmp_path):
    data_dir = Path(tempfile.mkdtemp(prefix="kundval-serve-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUNDVAL_") and k != "DATABASE_URL"}
    env["KUNDVAL_DATA_DIR"] = str(data_dir)
    log = tmp_path / "serve.log"  # a file, not a pipe: a full pipe would stall the server
    process = subprocess.Popen(
        [str(KUNDVAL), "serve", "--port", str(port)], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while _get(f"http://127.0.0.1:{port}/ready") != 200:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "not ready within 60 s"
            time.sleep(0.2)
        assert (data_dir / "pgdata" / "postmaster.pid").exists()

        # The README's walkthrough, verbatim but for where kundval and the service are.
        script = _walkthrough().replace("K=.venv/bin/kundval", f"K={KUNDVAL}").replace(":8000", f":{port}")
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert '"status":"settled"' in done.stdout
        feed_and_after = done.stdout.rsplit('"kind":"settlement"', 1)
        assert len(feed_and_after) == 2  # the feed listed the settlement
        assert "193805149493" not in feed_and_after[1]  # the reader sees references only
        csv = (tmp_path / "exempel-omsorg-2024-03.csv").read_bytes().decode("utf-8-sig").splitlines()
        assert csv[0].startswith("period;provider;kind;component;account")
        assert any(";omsorg;4631;" in row for row in csv[1:])

        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down, then re-raises the signal so the exit status says how it ended.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "embedded_postgres_stopped" in log.read_text()
        assert not (data_dir / "pgdata" / "postmaster.pid").exists()
    finally:
        if process.poll() is None:
            process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
