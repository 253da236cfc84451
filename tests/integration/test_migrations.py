import asyncio
import io
import re
import shutil
import uuid
from pathlib import Path

import asyncpg
import pytest

from service import db
from service.cli import main
from service.domain.settlement import digest, document
from service.settings import Settings
from service.store import runs, settlements, tariffs
from service.usecases import documents
from service.usecases.system import seed_defaults
from tests.conftest import with_database, with_user


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


# -- the owner migrates, the service connects as a role that owns nothing ------------------------


async def test_the_owner_migrates_and_the_service_starts_on_the_result(empty_db):
    settings = Settings(database_url=with_user(empty_db, db.SERVICE_ROLE), migration_url=empty_db)
    async with db.database(settings) as database:
        assert database.migrated == [m.name for m in db.migration_files()]
        conn = await db.connect(database.dsn)
        try:
            assert await conn.fetchval("SELECT current_user") == db.SERVICE_ROLE
            assert await conn.fetchval("SELECT count(*) FROM tenants") == 1
        finally:
            await conn.close()
    async with db.database(settings) as database:
        assert database.migrated == []


async def test_without_the_owners_url_a_pending_migration_stops_the_start(empty_db):
    settings = Settings(database_url=with_user(empty_db, db.SERVICE_ROLE))
    with pytest.raises(db.SetupError, match="KUNDVAL_MIGRATION_URL") as info:
        async with db.database(settings):
            pass
    assert "0001_init.sql" in str(info.value)


async def test_kundval_migrate_runs_as_the_owner(empty_db, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", with_user(empty_db, db.SERVICE_ROLE))
    monkeypatch.setenv("KUNDVAL_MIGRATION_URL", empty_db)
    code = await asyncio.to_thread(main, ["migrate"])
    assert code == 0
    assert f"applied {len(db.migration_files())} migration(s)" in capsys.readouterr().out
    code = await asyncio.to_thread(main, ["migrate"])
    assert code == 0 and "applied 0 migration(s)" in capsys.readouterr().out


@pytest.fixture
async def new_role(server_dsn):
    """Login roles of the test's own, dropped afterwards."""
    admin = await asyncpg.connect(server_dsn)
    made = []

    async def make(*options):
        name = f"kundval_r_{uuid.uuid4().hex[:10]}"
        await admin.execute(f'CREATE ROLE "{name}" LOGIN {" ".join(options)}')
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in reversed(made):
            await admin.execute(f'DROP ROLE "{name}"')
        await admin.close()


async def test_the_service_refuses_to_run_as_a_superuser(owner_url, monkeypatch, capsys):
    with pytest.raises(db.SetupError, match="superuser"):
        async with db.database(Settings(database_url=owner_url)):
            pass
    monkeypatch.setenv("DATABASE_URL", owner_url)
    code = await asyncio.to_thread(main, ["apikey", "list"])
    err = capsys.readouterr().err
    assert code == 1 and "superuser" in err and len(err.strip().splitlines()) == 1


async def test_the_service_refuses_to_run_as_an_owner_or_a_member_of_one(conn, owner_url, new_role):
    owner = await new_role()
    member = await new_role(f'IN ROLE "{owner}"')  # may SET ROLE to the owner
    await conn.execute(f'ALTER TABLE visits OWNER TO "{owner}"')
    try:
        for login in (owner, member):
            with pytest.raises(db.SetupError, match="visits"):
                async with db.database(Settings(database_url=with_user(owner_url, login))):
                    pass
    finally:
        await conn.execute("ALTER TABLE visits OWNER TO CURRENT_USER")


async def test_an_owner_that_is_no_superuser_migrates(server_dsn, new_role):
    role = await new_role()
    name = f"kundval_m_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}" OWNER "{role}"')
    try:
        owner = with_user(with_database(server_dsn, name), role)
        settings = Settings(database_url=with_user(owner, db.SERVICE_ROLE), migration_url=owner)
        async with db.database(settings) as database:
            assert len(database.migrated) == len(db.migration_files())
            conn = await db.connect(database.dsn)
            try:
                await seed_defaults(conn, "kson")  # as at every start: the service writes
                assert await conn.fetchval("SELECT count(*) FROM tariffs") > 0
            finally:
                await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


SETTLED_0006 = Path(__file__).resolve().parent.parent / "data" / "settled-0006.sql"
_COPY = re.compile(r"^COPY public\.(\w+) \(([^)]*)\) FROM stdin;\n(.*?)^\\\.\n", re.M | re.S)


def _copy_blocks(path: Path) -> list[tuple[str, list[str], bytes]]:
    """The COPY blocks of a data-only dump: (table, columns, rows in COPY text format)."""
    return [
        (table, [c.strip().strip('"') for c in columns.split(",")], data.encode())
        for table, columns, data in _COPY.findall(path.read_text(encoding="utf-8"))
    ]


def _migrations_through(folder, last):
    folder.mkdir()
    for m in db.migration_files():
        if m.version <= last:
            shutil.copy(db.MIGRATIONS_DIR / m.name, folder / m.name)
    return folder


async def test_0007_moves_adjustment_links_and_every_settlement_keeps_its_sha256(
    empty_db, tmp_path, monkeypatch
):
    """Settled data as the code before 0007 wrote it (adjustment links in run_lines.detail) goes
    through the migration: every settlement's document, built again from its migrated lines, hashes
    to the SHA-256 it was attested with, and an adjustment line reads as it did."""
    before_0007 = _migrations_through(tmp_path / "before", "0006")
    conn = await db.connect(empty_db)
    try:
        await db.migrate(conn, before_0007)
        # The tariffs shipped then (the simulations came with 0010).
        monkeypatch.setattr("service.usecases.system.SHIPPED_TARIFFS", ("kson-2021.toml", "kson-2024.toml"))
        await seed_defaults(conn, "kson")
        for table, columns, data in _copy_blocks(SETTLED_0006):
            await conn.copy_to_table(table, source=io.BytesIO(data), columns=columns, format="text")
        old_detail = {
            r["id"]: r["detail"]
            for r in await conn.fetch("SELECT id, detail FROM run_lines WHERE kind = 'adjustment'")
        }
        assert len(old_detail) == 12 and all("original_lines" in x for x in old_detail.values())

        # Later migrations are not this test's: apply 0007 alone.
        assert await db.migrate(conn, _migrations_through(tmp_path / "through", "0007")) == [
            "0007_line_links.sql"
        ]

        settled = await conn.fetch("SELECT id FROM settlements WHERE status = 'settled' ORDER BY period")
        assert len(settled) == 2
        for row in settled:
            settlement = await settlements.get(conn, "kson", row["id"])
            lines = await runs.lines(conn, "kson", settlement.run_id, settlement.provider_id)
            components = await tariffs.components(conn, "kson", settlement.tariffs)
            rebuilt = document("kson", settlement, lines, components)
            assert rebuilt == settlement.document and digest(rebuilt) == settlement.sha256
            frozen = await settlements.lines(conn, "kson", settlement.id)
            assert [x.id for x in frozen] == [x.id for x in lines if x.kind != "held"]
        for line_id, detail in old_detail.items():
            line = await runs.line(conn, "kson", line_id)
            assert line.detail == {} and line.adjustment is not None
            assert documents.line_detail(line) == detail

        # The later migrations go over the same settled data; verification rebuilds every document
        # from the lines as they are served and finds each hash as it was attested.
        later = [m.name for m in db.migration_files() if m.version > "0007"]
        assert await db.migrate(conn) == later
        assert await settlements.verify_hashes(conn, "kson") is None
    finally:
        await conn.close()
