import asyncio
import shutil
import uuid
from pathlib import Path

import asyncpg
import pytest

from service import db
from tests.conftest import with_database


async def test_template_database_is_current(conn):
    assert await db.pending_migrations(conn) == []
    assert await db.migrate(conn) == []  # applying again changes nothing
    versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [m.version for m in db.migration_files()]


async def test_default_tenant_exists(conn):
    assert await conn.fetchval("SELECT name FROM tenants WHERE id = 'kson'")


@pytest.fixture
async def empty_db(server_dsn):
    name = f"kundval_m_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_dsn, name)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def _copy_migrations(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS_DIR, target)
    return target


async def test_changed_applied_migration_is_refused(empty_db, tmp_path):
    directory = _copy_migrations(tmp_path)
    conn = await db.connect(empty_db)
    try:
        await db.migrate(conn, directory)
        first = sorted(directory.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited\n")
        with pytest.raises(db.MigrationError, match=first.name):
            await db.migrate(conn, directory)
        assert await db.pending_migrations(conn, directory) == [first.name]
    finally:
        await conn.close()


async def test_concurrent_starters_apply_each_migration_once(empty_db, tmp_path):
    directory = _copy_migrations(tmp_path)
    # A slow migration makes the race real: without the advisory lock the second starter would try
    # to create the same table and fail.
    (directory / "9999_slow.sql").write_text("SELECT pg_sleep(0.5); CREATE TABLE slow_marker (id int);")
    conns = [await db.connect(empty_db) for _ in range(3)]
    try:
        results = await asyncio.gather(*(db.migrate(c, directory) for c in conns))
        applied = [name for r in results for name in r]
        assert sorted(applied) == sorted(m.name for m in db.migration_files(directory))
        count = await conns[0].fetchval("SELECT count(*) FROM schema_migrations WHERE version = '9999'")
        assert count == 1
    finally:
        for c in conns:
            await c.close()


async def test_failed_migration_leaves_nothing_behind(empty_db, tmp_path):
    directory = _copy_migrations(tmp_path)
    (directory / "9999_broken.sql").write_text("CREATE TABLE half_done (id int); SELECT 1/0;")
    conn = await db.connect(empty_db)
    try:
        with pytest.raises(asyncpg.DivisionByZeroError):
            await db.migrate(conn, directory)
        assert await conn.fetchval("SELECT to_regclass('half_done')") is None
        assert await db.pending_migrations(conn, directory) == ["9999_broken.sql"]
    finally:
        await conn.close()
