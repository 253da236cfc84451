"""The schema can be distributed by tenant (docs/scaling.md): every domain table leads with tenant_id;
and the service's role has only the privileges it needs."""

from service import db

# Tables that are not per tenant: the tenant list itself, the migration ledger, and the rate-limit
# counters (a failed authentication has no tenant).
GLOBAL = {"tenants", "schema_migrations", "rate_limits"}
# Keyed by tenant but looked up before the tenant is known (by the key's hash, the username, the session
# token's hash): Citus reference tables.
REFERENCE = {"api_keys", "users", "web_sessions"}


async def test_every_domain_table_is_keyed_by_tenant_first(conn):
    rows = await conn.fetch(
        """SELECT c.relname AS table_name,
                  (SELECT a.attname FROM pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attnum = i.indkey[0]) AS first_key_column
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
           LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
           WHERE c.relkind IN ('r', 'p')"""
    )
    tables = {r["table_name"]: r["first_key_column"] for r in rows}
    assert set(tables) > GLOBAL
    wrong = {t: k for t, k in tables.items() if t not in GLOBAL and k != "tenant_id"}
    assert wrong == {}, f"tables whose primary key does not start with tenant_id: {wrong}"


async def test_unique_constraints_include_the_tenant(conn):
    # On a distributed table a unique constraint must contain the distribution column.
    rows = await conn.fetch(
        """SELECT con.conname, c.relname,
                  array(SELECT a.attname FROM pg_attribute a
                        WHERE a.attrelid = c.oid AND a.attnum = ANY (con.conkey)) AS columns
           FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
           WHERE con.contype IN ('u', 'p', 'x')"""
    )
    wrong = [
        (r["relname"], r["conname"])
        for r in rows
        if r["relname"] not in GLOBAL | REFERENCE and "tenant_id" not in r["columns"]
    ]
    assert wrong == []


# What the service's role may do, table by table (domain.md 7b): read everything; write where the service
# writes; only append where rows are frozen once written; nothing that alters a table or empties it.
APPEND_ONLY = {
    "audit_log",
    "runs",
    "run_lines",
    "run_line_adjustments",
    "run_line_links",
    "run_discrepancies",
    "run_followup",
    "run_recomputes",
    "discrepancy_decisions",
    "settlement_lines",
    "settlement_followup",
}
# The feed: feed_publish() writes it. The rest are views.
READ_ONLY = {"schema_migrations", "feed", "choice_spans", "zone_spans", "current_runs"}
NOTHING = {"feed_head"}


def _needed(table: str) -> set[str]:
    if table in NOTHING:
        return set()
    if table in READ_ONLY:
        return {"SELECT"}
    if table in APPEND_ONLY:
        return {"SELECT", "INSERT"}
    if table in ("settlements", "audit_head", "users"):  # attested, moved on, disabled: never deleted
        return {"SELECT", "INSERT", "UPDATE"}
    return {"SELECT", "INSERT", "UPDATE", "DELETE"}


async def test_the_service_role_has_only_the_privileges_it_needs(conn):
    rows = await conn.fetch(
        """SELECT c.relname AS name,
                  array(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                                   'REFERENCES', 'TRIGGER']) AS p
                        WHERE has_table_privilege($1, c.oid, p)) AS granted
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
           WHERE c.relkind IN ('r', 'p', 'v')""",
        db.SERVICE_ROLE,
    )
    granted = {r["name"]: set(r["granted"]) for r in rows}
    expected = {name: _needed(name) for name in granted}
    assert granted == expected
    sequences = await conn.fetch(
        """SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
           WHERE CASE WHEN c.relkind = 'S' THEN NOT has_sequence_privilege($1, c.oid, 'USAGE') END""",
        db.SERVICE_ROLE,
    )
    assert sequences == []
    assert not await conn.fetchval("SELECT has_schema_privilege($1, 'public', 'CREATE')", db.SERVICE_ROLE)
