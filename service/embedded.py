"""An embedded PostgreSQL for running without DATABASE_URL.

The binaries come from the `pgserver` wheel where it is installed (CPython <= 3.12), otherwise from the
machine's own PostgreSQL (`initdb`/`pg_ctl` on PATH or under /usr/lib/postgresql/*/bin). Either way the
server is driven the same way: initdb once, pg_ctl start/stop, listening only on a Unix socket in a
directory of ours, so it never collides with another server's port.

Roles as with any server (docs/design.md, "Database roles"): the cluster's superuser `postgres` owns the
schema and runs the migrations; the service connects as the role migration 0008 makes, which owns
nothing. The socket trusts whoever can reach it, and only its directory's owner can.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import structlog

log = structlog.get_logger("kundval.embedded")

# PostgreSQL refuses to run as root; when we are root the server runs as this system user.
SYSTEM_USER = "kundval-pg"
INSTALL_HINT = (
    "No PostgreSQL found for the embedded database. Either set DATABASE_URL to a running server, "
    "or install the binaries: `pip install pgserver` (CPython <= 3.12), or your system's PostgreSQL "
    "server package (Debian/Ubuntu: `apt-get install postgresql`; Fedora: `dnf install "
    "postgresql-server`; macOS: `brew install postgresql@16`)."
)


class EmbeddedError(RuntimeError):
    pass


def find_bin_dir() -> Path:
    """The directory holding initdb, pg_ctl and postgres."""
    # Locate pgserver's bundled binaries without importing it (its import has side effects).
    spec = importlib.util.find_spec("pgserver")
    if spec and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
        if (candidate / "initdb").exists():
            return candidate
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    raise EmbeddedError(INSTALL_HINT)


class EmbeddedPostgres:
    """One PostgreSQL cluster under `data_dir/pgdata`, kept across restarts."""

    def __init__(self, data_dir: str | Path, database: str = "kundval") -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.database = database
        self.owned = False  # True when this process started the server and so must stop it
        self._socket_dir: Path | None = None
        self._user: str | None = None

    def start(self) -> str:
        """Start (or join an already running) server; return the owner's DSN of the service database."""
        bin_dir = find_bin_dir()
        self._user = _server_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        running = self._running_socket_dir()
        if running is not None:
            self._socket_dir = running
            log.info("embedded_postgres_joined", pgdata=str(self.pgdata))
        else:
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb(bin_dir)
            self._socket_dir = self._choose_socket_dir()
            self._run(
                bin_dir / "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.pgdata / "server.log"),
                "-o",
                f"-c listen_addresses='' -k {self._socket_dir} -c unix_socket_permissions=0700",
            )
            self.owned = True
            log.info("embedded_postgres_started", pgdata=str(self.pgdata), bin_dir=str(bin_dir))
        self._ensure_database(bin_dir)
        return self.dsn(self.database)

    def dsn(self, database: str, user: str = "postgres") -> str:
        assert self._socket_dir is not None, "start() first"
        return f"postgresql://{user}@/{database}?host={quote(str(self._socket_dir), safe='')}"

    def stop(self) -> None:
        if not self.owned:
            return
        self._run(find_bin_dir() / "pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.pgdata))
        self.owned = False
        log.info("embedded_postgres_stopped", pgdata=str(self.pgdata))

    # -- internals -------------------------------------------------------------------------

    def _initdb(self, bin_dir: Path) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._hand_over(self.pgdata)
        self._run(
            bin_dir / "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        )
        # Keep identity numbers out of the server's own log: statements are never logged in full
        # and errors name no parameter values.
        with open(self.pgdata / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                "\n# kundval embedded defaults\n"
                "log_statement = 'none'\n"
                "log_min_error_statement = 'panic'\n"
                "log_parameter_max_length_on_error = 0\n"
                "timezone = 'UTC'\n"
            )

    def _ensure_database(self, bin_dir: Path) -> None:
        psql = bin_dir / "psql"
        exists = self._run(
            psql,
            "-h",
            str(self._socket_dir),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'",
        )
        if exists.strip() != "1":
            self._run(
                psql,
                "-h",
                str(self._socket_dir),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                f'CREATE DATABASE "{self.database}"',
            )

    def _running_socket_dir(self) -> Path | None:
        """The socket directory of a server already running on this pgdata, if any."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text(encoding="utf-8").splitlines()
            pid = int(lines[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return Path(lines[4]) if len(lines) > 4 and lines[4] else None

    def _choose_socket_dir(self) -> Path:
        # A Unix socket path is limited to 107 bytes; fall back to a short temporary directory.
        preferred = self.data_dir / "run"
        if len(str(preferred / ".s.PGSQL.5432")) < 100:
            preferred.mkdir(exist_ok=True)
            path = preferred
        else:
            path = Path(tempfile.mkdtemp(prefix="kundval-pg-"))
        self._hand_over(path)
        return path

    def _hand_over(self, path: Path) -> None:
        """When we are root, let the server's system user own `path` and reach it."""
        if self._user is None:
            return
        entry = pwd.getpwnam(self._user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        for parent in path.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)

    def _run(self, *args: object) -> str:
        result = subprocess.run(  # noqa: S603 (fixed binaries, our own arguments)
            [str(a) for a in args],
            capture_output=True,
            text=True,
            check=False,
            # Drop root's groups too: with gid 0 kept, group bits (not "other") would decide access.
            user=self._user,
            group=self._user,
            extra_groups=[] if self._user else None,
            timeout=120,
        )
        if result.returncode != 0:
            raise EmbeddedError(
                f"{Path(str(args[0])).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )
        return result.stdout


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(  # noqa: S603
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],  # noqa: S607
            check=True,
            capture_output=True,
        )
    return SYSTEM_USER
