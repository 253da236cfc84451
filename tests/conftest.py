"""Test fixtures: a real PostgreSQL, a migrated template, and a fresh database per test.

Without DATABASE_URL an embedded server is started for the session; with it, that server is used
(its role must be allowed to create databases and roles, and the server must let the service's role
log in without a password, as the embedded one does). Each test gets its own database cloned from a
migrated template, so tests are isolated and may commit freely.

Roles as in production: the server's role is the owner (it migrates, and `conn` is the test's own
hand as the owner); the app, the commands and `database_url` connect as the service's role, which
owns nothing and is no superuser, so the whole suite runs the service with only its privileges.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service import db
from service.app import create_app
from service.embedded import EmbeddedPostgres
from service.settings import Settings
from service.store import apikeys
from service.usecases.system import seed_defaults


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


def with_user(dsn: str, user: str) -> str:
    """The same server and database as another role (no password: the test server trusts it)."""
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    """DSN of a maintenance database on the test server."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    data_dir = tempfile.mkdtemp(prefix="kundval-test-")
    server = EmbeddedPostgres(data_dir)
    server.start()
    try:
        yield server.dsn("postgres")
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_db(server_dsn: str) -> AsyncIterator[str]:
    name = f"kundval_tmpl_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await db.connect(with_database(server_dsn, name))
        try:
            await db.migrate(conn)
            await seed_defaults(conn, "kson")
        finally:
            await conn.close()
        yield name
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def owner_url(server_dsn: str, template_db: str) -> AsyncIterator[str]:
    """A fresh database of the test's own, as its owner (the role that migrated the template)."""
    name = f"kundval_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        strategy = " STRATEGY FILE_COPY" if admin.get_server_version().major >= 15 else ""
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"{strategy}')
        yield with_database(server_dsn, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def database_url(owner_url: str) -> str:
    """The test database as the service connects to it: DATABASE_URL in production."""
    return with_user(owner_url, db.SERVICE_ROLE)


@contextlib.asynccontextmanager
async def connected(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await db.connect(dsn)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def conn(owner_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The owner's connection: test data set up directly, and tampering only an owner can do."""
    async with connected(owner_url) as connection:
        yield connection


@pytest.fixture
async def service_conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the service's role: what SQL reaching the service's own user could do."""
    async with connected(database_url) as connection:
        yield connection


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Rate limits count in fixed windows: an hour's window keeps a test's few requests in one window
    # (with the default minute, a test that counts to a limit could straddle two and fail).
    return Settings(database_url=database_url, log_format="json", pool_min=1, pool_max=4, rate_window=3600)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


PROVIDERS = {"prov-a": "5566778899", "prov-b": "5590123450"}


@pytest.fixture
async def keys(conn: asyncpg.Connection) -> dict[str, str]:
    """One API key per role (two providers), as `Authorization` header values by name."""
    for pid, orgnr in PROVIDERS.items():
        await conn.execute(
            "INSERT INTO providers (tenant_id, id, orgnr, name) VALUES ('kson', $1, $2, $3) "
            "ON CONFLICT DO NOTHING",
            pid,
            orgnr,
            pid.upper(),
        )
    out = {}
    for name, role, provider in [
        ("provider", "provider", "prov-a"),
        ("provider_b", "provider", "prov-b"),
        ("registry", "registry", None),
        ("invoice_admin", "invoice_admin", None),
        ("invoice_admin_2", "invoice_admin", None),
        ("reader", "reader", None),
        ("auditor", "auditor", None),
    ]:
        _, key = await apikeys.create(conn, tenant_id="kson", role=role, name=name, provider_id=provider)
        out[name] = f"Bearer {key}"
    return out


def auth(key: str) -> dict[str, str]:
    return {"Authorization": key}
