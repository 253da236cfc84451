"""Connections, the embedded-or-external database choice, and the migration runner."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import msgspec
import structlog

from service.embedded import EmbeddedPostgres
from service.settings import Settings

log = structlog.get_logger("kundval.db")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "sql" / "migrations"
# pg_advisory_lock key for the migration runner: two instances starting at once apply in turn.
MIGRATION_LOCK = 0x6B756E6476616C  # "kundval"
# The role whose privileges the service uses (migration 0008 grants them and makes the role where it is
# missing); DATABASE_URL logs in as it, or as a role that is a member of it.
SERVICE_ROLE = "kundval_service"
_MIGRATE_HINT = (
    "migrations run as the tables' owner: set KUNDVAL_MIGRATION_URL to the owner's URL, "
    "or run `kundval migrate` with it"
)
_ROLES_HINT = (
    f"the service must connect as a role that owns nothing and is no superuser ({SERVICE_ROLE}), "
    "and migrations run as the owner (KUNDVAL_MIGRATION_URL): deploy/OPERATIONS.md, 'Database roles'"
)


class SetupError(RuntimeError):
    """The database cannot be used as configured; the message says what to change."""


class MigrationError(SetupError):
    pass


@dataclass(frozen=True)
class Database:
    dsn: str  # the service's: its role owns nothing and is no superuser
    migrated: list[str]  # the migrations this start applied, as the owner


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The service's database on a current schema, checked.

    DATABASE_URL names the service's role, KUNDVAL_MIGRATION_URL (when set) the owner's, which applies
    pending migrations first. Without DATABASE_URL an embedded server is started (and stopped) around
    the block: its superuser is the owner, and the service logs in as SERVICE_ROLE. Either way the
    start stops with a SetupError while a migration is pending, or when the service's role could
    switch the database's guards off (domain.md 7b).
    """
    if settings.database_url:
        yield await _checked(settings.migration_url, settings.database_url)
        return
    server = EmbeddedPostgres(settings.data_dir)
    owner = server.start()
    try:
        yield await _checked(owner, server.dsn(server.database, SERVICE_ROLE))
    finally:
        server.stop()


async def _checked(owner: str | None, service: str) -> Database:
    migrated = []
    if owner:
        conn = await _reach(owner)
        try:
            migrated = await migrate(conn)
        finally:
            await conn.close()
    conn = await _reach(service)
    try:
        await check_service_role(conn)
        try:
            pending = await pending_migrations(conn)
        except asyncpg.InsufficientPrivilegeError:
            raise SetupError(f"the service's role may not read the schema yet: {_MIGRATE_HINT}") from None
        if pending:
            raise SetupError(f"{len(pending)} migration(s) pending ({', '.join(pending)}): {_MIGRATE_HINT}")
    finally:
        await conn.close()
    return Database(service, migrated)


async def _reach(dsn: str) -> asyncpg.Connection:
    try:
        return await connect(dsn)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        where = urlsplit(dsn)
        raise SetupError(
            f"cannot reach the database at {where.hostname or 'localhost'}:{where.port or 5432}"
            f"{where.path}: {err or type(err).__name__}"
        ) from None


async def check_service_role(conn: asyncpg.Connection) -> None:
    """Refuse a role that could switch the guards off: a superuser, one that may create roles (and so
    grant itself another), or one that owns, or may become the owner of, the database, a schema or a
    table. Membership counts: a member may SET ROLE to the owner."""
    row = await conn.fetchrow(
        r"""SELECT current_user AS name,
                   EXISTS (SELECT 1 FROM pg_roles r WHERE (r.rolsuper OR r.rolcreaterole)
                             AND pg_has_role(current_user, r.oid, 'MEMBER')) AS privileged,
                   array(SELECT 'database ' || d.datname FROM pg_database d
                          WHERE d.datname = current_database() AND pg_has_role(current_user, d.datdba, 'MEMBER')
                         UNION ALL
                         SELECT 'schema ' || n.nspname FROM pg_namespace n
                          WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
                            AND pg_has_role(current_user, n.nspowner, 'MEMBER')
                         UNION ALL
                         (SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
                             AND c.relpersistence <> 't' AND pg_has_role(current_user, c.relowner, 'MEMBER')
                           ORDER BY 1)) AS owned"""
    )
    if row["privileged"]:
        raise SetupError(
            f"the service connects as {row['name']}, a superuser or a role that may create roles: {_ROLES_HINT}"
        )
    if row["owned"]:
        raise SetupError(
            f"the service connects as {row['name']}, which owns {', '.join(row['owned'][:5])}"
            f"{' and more' if len(row['owned']) > 5 else ''}: {_ROLES_HINT}"
        )


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


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Reset on release: none. asyncpg rolls back a transaction left open in any case; its default
    reset (RESET ALL, CLOSE ALL, UNLISTEN, advisory unlock) would cost every request a round trip for
    session state the service never leaves behind (its settings and locks are transaction-scoped)."""


async def create_pool(dsn: str, settings: Settings) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        init=_init_connection,
        reset=_keep_session,
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
