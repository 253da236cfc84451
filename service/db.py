"""Connections, the embedded-or-external database choice, and the migration runner."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import msgspec
import structlog

from service.embedded import EmbeddedPostgres
from service.settings import Settings

log = structlog.get_logger("kundval.db")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "sql" / "migrations"
# pg_advisory_lock key for the migration runner: two instances starting at once apply in turn.
MIGRATION_LOCK = 0x6B756E6476616C  # "kundval"


class MigrationError(RuntimeError):
    pass


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[str]:
    """The DSN to use: DATABASE_URL, or an embedded server started (and stopped) around the block."""
    if settings.database_url:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.data_dir)
    dsn = server.start()
    try:
        yield dsn
    finally:
        server.stop()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await conn.set_type_codec(
            json_type,
            schema="pg_catalog",
            encoder=lambda v: msgspec.json.encode(v).decode(),
            decoder=msgspec.json.decode,
        )


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


async def create_pool(dsn: str, settings: Settings) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn, min_size=settings.pool_min, max_size=settings.pool_max, init=_init_connection
    )


# -- migrations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    version: str  # "0001"
    name: str  # "0001_init.sql"
    sql: str
    sha256: str


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        version = path.name.split("_", 1)[0]
        if not version.isdigit():
            raise MigrationError(f"migration file {path.name} must start with a number")
        text = path.read_text(encoding="utf-8")
        found.append(Migration(version, path.name, text, hashlib.sha256(text.encode()).hexdigest()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number in {directory}")
    return found


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; return the names applied.

    Runs under a session advisory lock so that concurrent starters wait for each other; a file changed
    after it was applied is refused rather than silently diverging from the database.
    """
    files = migration_files(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version text PRIMARY KEY,
                   name text NOT NULL,
                   sha256 text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = {r["version"]: r for r in await conn.fetch("SELECT * FROM schema_migrations")}
        done = []
        for m in files:
            previous = applied.get(m.version)
            if previous is not None:
                if previous["sha256"] != m.sha256:
                    raise MigrationError(
                        f"migration {m.name} was changed after it was applied "
                        f"(applied {previous['sha256'][:12]}, file {m.sha256[:12]}); "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)",
                    m.version,
                    m.name,
                    m.sha256,
                )
            log.info("migration_applied", migration=m.name)
            done.append(m.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def pending_migrations(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Names of migration files not applied (or changed since): empty when the schema is current."""
    try:
        rows = await conn.fetch("SELECT version, sha256 FROM schema_migrations")
    except asyncpg.UndefinedTableError:
        rows = []
    applied = {r["version"]: r["sha256"] for r in rows}
    return [m.name for m in migration_files(directory) if applied.get(m.version) != m.sha256]
