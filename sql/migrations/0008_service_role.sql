-- The service's role, and guards it cannot switch off (domain.md 7b).
--
-- The service connects as kundval_service (or a login role that is a member of it): a role that owns
-- no table and is no superuser. Only an owner may ALTER a table (DISABLE TRIGGER), TRUNCATE, DROP or
-- replace a guard, and only a superuser may set session_replication_role; so what the triggers refuse,
-- the service cannot do at all. Migrations run as the owner, the role that created the tables.

-- The role, unless an operator made it already (with a password: deploy/OPERATIONS.md). Made here it
-- has none, so it can log in only where the server trusts the connection (the embedded server).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kundval_service') THEN
        CREATE ROLE kundval_service LOGIN;
    END IF;
EXCEPTION
    -- Made at the same moment by the migration of another database on the server.
    WHEN duplicate_object OR unique_violation THEN NULL;
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'role kundval_service does not exist, and % may not create it', current_user
            USING HINT = 'create it first (deploy/OPERATIONS.md, "Database roles"): '
                         'CREATE ROLE kundval_service LOGIN PASSWORD ''...''';
END $$;

-- A settled settlement's lines are frozen: UPDATE and DELETE were refused already (0004), and adding
-- one is refused now. Lines are written while the settlement is prepared, in the transaction that
-- attests it; the share lock waits for an attestation in progress, so no line slips in behind it.
-- The search path is fixed (temporary tables last) so that no table of the caller's can stand in.
CREATE FUNCTION settlement_lines_frozen() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    state text;
BEGIN
    SELECT status INTO state FROM settlements
     WHERE tenant_id = NEW.tenant_id AND id = NEW.settlement_id FOR SHARE;
    IF state IS DISTINCT FROM 'prepared' THEN
        RAISE EXCEPTION 'settlement % is %: no line can be added to it', NEW.settlement_id, coalesce(state, 'unknown')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER settlement_lines_frozen BEFORE INSERT ON settlement_lines
    FOR EACH ROW EXECUTE FUNCTION settlement_lines_frozen();

-- The same hardening for the one older guard that reads a table.
ALTER FUNCTION tariffs_refuse_overlap() SET search_path = pg_catalog, public, pg_temp;

-- The feed takes entries only from feed_publish: the service may read the feed but not write it, and
-- this function, running as the owner, is the one way in. It publishes a settled settlement once,
-- with what it froze (its total; its adjustments per corrected period), at the next positions under
-- the feed_head row lock held to commit (0004): no entry can be made up, and none can take a position
-- out of turn.
CREATE UNIQUE INDEX feed_settlement_once ON feed (tenant_id, settlement_id) WHERE kind = 'settlement';
CREATE UNIQUE INDEX feed_adjustment_once ON feed (tenant_id, settlement_id, original_period)
    WHERE kind = 'adjustment';

CREATE FUNCTION feed_publish(p_tenant text, p_settlement uuid) RETURNS bigint[] LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    state text;
    provider text;
    settled_period text;
    settled_total numeric;
    entries integer;
    head bigint;
    positions bigint[];
BEGIN
    SELECT status, provider_id, period, total INTO state, provider, settled_period, settled_total
      FROM settlements WHERE tenant_id = p_tenant AND id = p_settlement;
    IF state IS DISTINCT FROM 'settled' THEN
        RAISE EXCEPTION 'settlement % is %: only a settled one is published', p_settlement, coalesce(state, 'unknown')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT 1 + count(*) INTO entries FROM (
        SELECT original_period FROM settlement_lines
         WHERE tenant_id = p_tenant AND settlement_id = p_settlement AND kind = 'adjustment'
         GROUP BY original_period) corrected;
    INSERT INTO feed_head (tenant_id, position) VALUES (p_tenant, 0) ON CONFLICT DO NOTHING;
    UPDATE feed_head SET position = position + entries WHERE tenant_id = p_tenant RETURNING position INTO head;
    WITH published AS (
        INSERT INTO feed (tenant_id, position, kind, settlement_id, provider_id, period, original_period, amount)
        SELECT p_tenant, head - entries + e.n, e.kind, p_settlement, provider, settled_period, e.original_period,
               e.amount
        FROM (SELECT 1::bigint AS n, 'settlement' AS kind, NULL::text AS original_period, settled_total AS amount
              UNION ALL
              SELECT 1 + row_number() OVER (ORDER BY l.original_period COLLATE "C"), 'adjustment',
                     l.original_period, sum(l.amount)
              FROM settlement_lines l
              WHERE l.tenant_id = p_tenant AND l.settlement_id = p_settlement AND l.kind = 'adjustment'
              GROUP BY l.original_period) e
        RETURNING position
    )
    SELECT array_agg(position ORDER BY position) INTO positions FROM published;
    RETURN positions;
END $$;

REVOKE ALL ON FUNCTION feed_publish(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION feed_publish(text, uuid) TO kundval_service;

-- The service's privileges: read everything; write where it writes; only append where rows are frozen
-- once written; nothing on the feed's head. No TRUNCATE, REFERENCES or TRIGGER, and no CREATE in the
-- schema (PostgreSQL 15 grants none to PUBLIC; older servers did). Tables made by later migrations get
-- the same reading and writing by default; a migration that needs less for its table revokes it there.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO kundval_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO kundval_service;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO kundval_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO kundval_service;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO kundval_service;

REVOKE INSERT, UPDATE, DELETE ON schema_migrations, feed, choice_spans, zone_spans, current_runs
    FROM kundval_service;
REVOKE UPDATE, DELETE ON audit_log, runs, run_lines, run_line_adjustments, run_line_links, run_discrepancies,
    run_recomputes, discrepancy_decisions, settlement_lines FROM kundval_service;
REVOKE DELETE ON settlements, audit_head FROM kundval_service;
REVOKE ALL ON feed_head FROM kundval_service;
