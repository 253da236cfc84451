"""The embedded PostgreSQL: data survives restarts; a second process joins; clear words when missing."""

import asyncio
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pytest

from service import db, embedded
from service.embedded import EmbeddedError, EmbeddedPostgres
from service.settings import Settings

# The machine's own PostgreSQL, as find_bin_dir looks for it when pgserver is absent.
SYSTEM_BINARIES = bool(shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb")))


@pytest.fixture
def data_dir():
    path = tempfile.mkdtemp(prefix="kundval-emb-")
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


async def _query(dsn, sql):
    conn = await asyncpg.connect(dsn)
    try:
        if ";" in sql:
            return await conn.execute(sql)
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def test_data_survives_a_restart_and_a_second_process_joins(data_dir):
    server = EmbeddedPostgres(data_dir)
    dsn = await asyncio.to_thread(server.start)
    try:
        await _query(dsn, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
        other = EmbeddedPostgres(data_dir)
        assert await asyncio.to_thread(other.start) == dsn
        assert other.owned is False
        other.stop()  # not its server: it stays up
        assert await _query(dsn, "SELECT x FROM kept") == 42
    finally:
        await asyncio.to_thread(server.stop)
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()
    dsn = await asyncio.to_thread(server.start)
    try:
        assert await _query(dsn, "SELECT x FROM kept") == 42
    finally:
        await asyncio.to_thread(server.stop)


async def test_machine_binaries_are_used_without_pgserver(data_dir, monkeypatch):
    # What happens on CPython 3.13+, where pgserver has no wheel: the machine's own binaries serve,
    # or, where there are none, the start fails saying what to install.
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    if not SYSTEM_BINARIES:
        with pytest.raises(EmbeddedError, match="apt-get install postgresql"):
            embedded.find_bin_dir()
        return
    assert "pgserver" not in str(embedded.find_bin_dir())
    server = EmbeddedPostgres(data_dir)
    dsn = await asyncio.to_thread(server.start)
    try:
        assert await _query(dsn, "SELECT 1") == 1
    finally:
        await asyncio.to_thread(server.stop)


def test_missing_postgresql_says_what_to_install(monkeypatch):
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(embedded.shutil, "which", lambda name: None)
    monkeypatch.setattr(embedded.Path, "glob", lambda self, pattern: iter(()))
    with pytest.raises(EmbeddedError, match="pip install pgserver") as info:
        embedded.find_bin_dir()
    assert "apt-get install postgresql" in str(info.value)
    assert "DATABASE_URL" in str(info.value)


async def test_embedded_mode_sets_up_the_owner_and_the_service_role(data_dir):
    # The server's superuser owns the tables and migrates; the service logs in as a role that owns nothing.
    async with db.database(Settings(data_dir=str(data_dir))) as database:
        assert database.migrated == [m.name for m in db.migration_files()]
        conn = await db.connect(database.dsn)
        try:
            assert await conn.fetchval("SELECT current_user") == db.SERVICE_ROLE
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("ALTER TABLE settlement_lines DISABLE TRIGGER USER")
        finally:
            await conn.close()
    async with db.database(Settings(data_dir=str(data_dir))) as database:
        assert database.migrated == []
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()
