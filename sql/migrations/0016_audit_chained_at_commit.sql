-- The audit chain is extended when a transaction commits, not when its entry is written (issue 10, the
-- load benchmark). The tenant's audit_head row orders every writer and stays locked until its
-- transaction ends: locked at the entry, it was held over the service's round trips to the commit,
-- and every write of the tenant queued behind them. Now an entry waits in audit_pending, and a
-- deferred trigger locks the head, chains the entry onto it, stores it in audit_log and moves the
-- head, as the last step of the commit. Still in the writing transaction: no write commits without
-- its entry, and none of its entries outlives a rollback.
--
-- `hashed_before`, `hashed_between` and `hashed_after` are the entry's canonical encoding cut around
-- the two fields only the head decides (service/store/audit.py, `_pieces`): the entry's hash is
-- sha256(hashed_before || prev_hash || hashed_between || seq || hashed_after), the same bytes as before.
-- Unlogged: a pending row never outlives its transaction.
CREATE UNLOGGED TABLE audit_pending (
    tenant_id      text NOT NULL,
    id             bigint GENERATED ALWAYS AS IDENTITY,
    at             timestamptz NOT NULL,
    actor          text NOT NULL,
    actor_key      uuid,
    role           text NOT NULL,
    provider_id    text,
    request_id     text,
    action         text NOT NULL,
    entity_kind    text NOT NULL,
    entity_ids     text[] NOT NULL,
    payload_sha256 text,
    reason         text,
    before         jsonb,
    after          jsonb,
    hashed_before  bytea NOT NULL,
    hashed_between bytea NOT NULL,
    hashed_after   bytea NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    head_seq  bigint;
    head_hash text;
    entry     text;
BEGIN
    SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE tenant_id = NEW.tenant_id FOR UPDATE;
    IF NOT FOUND THEN  -- the tenant's first entry: its chain starts at the genesis hash
        INSERT INTO audit_head (tenant_id, seq, hash) VALUES (NEW.tenant_id, 0, repeat('0', 64))
            ON CONFLICT DO NOTHING;
        SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE tenant_id = NEW.tenant_id FOR UPDATE;
    END IF;
    head_seq := head_seq + 1;
    entry := encode(sha256(NEW.hashed_before || convert_to(head_hash, 'UTF8') || NEW.hashed_between
                           || convert_to(head_seq::text, 'UTF8') || NEW.hashed_after), 'hex');
    INSERT INTO audit_log (tenant_id, seq, at, actor, actor_key, role, provider_id, request_id, action,
                           entity_kind, entity_ids, payload_sha256, reason, before, after, prev_hash, hash)
    VALUES (NEW.tenant_id, head_seq, NEW.at, NEW.actor, NEW.actor_key, NEW.role, NEW.provider_id,
            NEW.request_id, NEW.action, NEW.entity_kind, NEW.entity_ids, NEW.payload_sha256, NEW.reason,
            NEW.before, NEW.after, head_hash, entry);
    UPDATE audit_head SET seq = head_seq, hash = entry WHERE tenant_id = NEW.tenant_id;
    DELETE FROM audit_pending WHERE tenant_id = NEW.tenant_id AND id = NEW.id;
    RETURN NULL;
END $$;

-- Deferred triggers fire in the order their rows were inserted: a transaction's entries keep theirs.
CREATE CONSTRAINT TRIGGER audit_pending_chained AFTER INSERT ON audit_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_chain();

-- The trigger runs as the service (it may append to audit_log and move audit_head already) and takes
-- the pending row out again; the service has the default privileges on audit_pending.
