"""`kundval serve` end to end: embedded database, ready, and a clean stop that stops the database."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


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


def test_serve_runs_on_embedded_database_and_stops_it():
    data_dir = Path(tempfile.mkdtemp(prefix="kundval-serve-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUNDVAL_") and k != "DATABASE_URL"}
    env["KUNDVAL_DATA_DIR"] = str(data_dir)
    kundval = Path(sys.executable).parent / "kundval"
    process = subprocess.Popen(
        [str(kundval), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while _get(f"http://127.0.0.1:{port}/ready") != 200:
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "not ready within 60 s"
            time.sleep(0.2)
        assert (data_dir / "pgdata" / "postmaster.pid").exists()
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down, then re-raises the signal so the exit status says how it ended.
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        output = process.stdout.read().decode()
        assert "embedded_postgres_stopped" in output
        assert not (data_dir / "pgdata" / "postmaster.pid").exists()
    finally:
        if process.poll() is None:
            process.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
