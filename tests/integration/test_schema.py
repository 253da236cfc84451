"""The schema can be distributed by tenant (docs/scaling.md): every domain table leads with tenant_id."""

# Tables that are not per tenant: the tenant list itself, the migration ledger, and the rate-limit
# counters (a failed authentication has no tenant).
GLOBAL = {"tenants", "schema_migrations", "rate_limits"}
# Keyed by tenant but looked up before the tenant is known (by the key's hash): a Citus reference table.
REFERENCE = {"api_keys"}


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
