"""The service's database role cannot change what is settled (domain.md 7b; issue 10, finding 5).

Everything here runs SQL as the service's own role (`service_conn`), as SQL reaching the service's
database user would: the role owns nothing and is no superuser, so the guards cannot be switched
off, and the guards refuse adding lines to a settled settlement and writing the feed directly.
"""

import uuid

import asyncpg
import pytest

from service import db
from tests.api.test_settlements import PROVIDER, _decide_all, _run, _settle
from tests.api.test_settlements import month as month  # a fixture
from tests.conftest import auth

OTHER = "skargardens-vard"


async def test_the_app_connects_as_a_role_that_owns_nothing_and_is_no_superuser(client, conn):
    await client.get("/ready")
    logins = await conn.fetch(
        """SELECT DISTINCT usename FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()"""
    )
    assert [r["usename"] for r in logins] == [db.SERVICE_ROLE]
    role = await conn.fetchrow(
        """SELECT rolsuper, rolcreaterole,
                  (SELECT count(*) FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace
                    WHERE n.nspname = 'public' AND pg_has_role($1, k.relowner, 'MEMBER')) AS owned,
                  has_schema_privilege($1, 'public', 'CREATE') AS creates
           FROM pg_roles WHERE rolname = $1""",
        db.SERVICE_ROLE,
    )
    assert dict(role) == {"rolsuper": False, "rolcreaterole": False, "owned": 0, "creates": False}


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE settlement_lines DISABLE TRIGGER settlement_lines_immutable",
        "ALTER TABLE settlement_lines DISABLE TRIGGER USER",
        "ALTER TABLE feed DISABLE TRIGGER ALL",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        "SET session_replication_role = replica",
        "DROP TRIGGER settlement_lines_frozen ON settlement_lines",
        "TRUNCATE audit_log",
        "DELETE FROM audit_log",
        "UPDATE audit_log SET reason = 'x'",
        "DELETE FROM settlement_lines",
        "INSERT INTO feed_head (tenant_id, position) VALUES ('kson', 0)",
        "UPDATE feed_head SET position = 0",
        "CREATE TABLE public.kv_own (id int)",
        "CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        "ALTER FUNCTION feed_publish(text, uuid) OWNER TO CURRENT_USER",
        "GRANT kundval_service TO CURRENT_USER",
        "ALTER ROLE CURRENT_USER SUPERUSER",
        "SET ROLE pg_database_owner",
    ],
)
async def test_the_service_role_cannot_switch_the_guards_off(service_conn, statement):
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await service_conn.execute(statement)


async def _a_line(conn, settlement_id):
    return dict(
        await conn.fetchrow(
            "SELECT * FROM settlement_lines WHERE settlement_id = $1 ORDER BY ord LIMIT 1", settlement_id
        )
    )


async def _insert_line(conn, line):
    columns = ", ".join(line)
    values = ", ".join(f"${i}" for i in range(1, len(line) + 1))
    await conn.execute(f"INSERT INTO settlement_lines ({columns}) VALUES ({values})", *line.values())


async def test_a_settled_settlement_takes_no_line_added_changed_or_removed(client, conn, service_conn, month):
    settled = await _settle(client, month, PROVIDER)
    settlement_id = uuid.UUID(settled["id"])
    view = await client.get(f"/v1/settlements/{settlement_id}", headers=auth(month["anna"]))
    csv = await client.get(f"/v1/settlements/{settlement_id}/export.csv", headers=auth(month["finance"]))
    extra = await _a_line(service_conn, settlement_id) | {"ord": 999, "amount": 1_000_000}

    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="settled"):
        await _insert_line(service_conn, extra)
    # A table of the service's own that shadows `settlements` does not fool the guard.
    await service_conn.execute(
        "CREATE TEMP TABLE settlements AS SELECT tenant_id, id, 'prepared'::text AS status FROM public.settlements"
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="settled"):
        await _insert_line(service_conn, extra)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await service_conn.execute(
            "UPDATE settlement_lines SET amount = 0 WHERE settlement_id = $1", settlement_id
        )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await service_conn.execute("DELETE FROM settlement_lines WHERE settlement_id = $1", settlement_id)
    # The guard is the database's, not the role's: the owner is refused too unless it switches it off.
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="settled"):
        await _insert_line(conn, extra)

    assert (
        await client.get(f"/v1/settlements/{settlement_id}", headers=auth(month["anna"]))
    ).json() == view.json()
    again = await client.get(f"/v1/settlements/{settlement_id}/export.csv", headers=auth(month["finance"]))
    assert again.content == csv.content


async def test_the_feed_takes_entries_only_from_publishing_a_settlement(client, conn, service_conn, month):
    settled = await _settle(client, month, PROVIDER)
    settlement_id = uuid.UUID(settled["id"])
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await service_conn.execute(
            """INSERT INTO feed (tenant_id, position, kind, settlement_id, provider_id, period, amount)
               VALUES ('kson', 2, 'settlement', $1, $2, '2024-03', 1000000)""",
            settlement_id,
            PROVIDER,
        )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await service_conn.execute("UPDATE feed SET amount = 0")
    # The one way in publishes a settled settlement, once, with what it froze.
    with pytest.raises(asyncpg.UniqueViolationError):
        await service_conn.execute("SELECT feed_publish('kson', $1)", settlement_id)
    await _run(client, month)
    await _decide_all(client, month, OTHER)
    await _run(client, month)
    prepared = await client.post(
        "/v1/settlements", json={"provider": OTHER, "period": "2024-03"}, headers=auth(month["anna"])
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="prepared"):
        await service_conn.execute("SELECT feed_publish('kson', $1)", uuid.UUID(prepared.json()["id"]))
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="unknown"):
        await service_conn.execute("SELECT feed_publish('kson', $1)", uuid.uuid4())

    attested = await client.post(
        f"/v1/settlements/{prepared.json()['id']}/attestation", headers=auth(month["bo"])
    )
    other = attested.json()
    feed = (await client.get("/v1/feed", headers=auth(month["finance"]))).json()["items"]
    assert [(x["position"], x["provider"], x["amount"]) for x in feed] == [
        (1, PROVIDER, settled["total"]),
        (2, OTHER, other["total"]),
    ]
