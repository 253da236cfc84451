-- Settlement (domain.md sections 6, 7, 7b): a provider-period is prepared by one invoice_admin and
-- attested by another; attesting freezes what was paid. Finance systems follow a change feed.

CREATE TABLE settlements (
    tenant_id        text NOT NULL REFERENCES tenants (id),
    id               uuid NOT NULL,
    provider_id      text NOT NULL,
    period           text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    run_id           uuid NOT NULL,          -- the real run whose lines are settled
    -- prepared: waiting for the second invoice_admin; settled: attested and frozen;
    -- superseded: a preparation overtaken by a newer run or preparation (never attested).
    status           text NOT NULL CHECK (status IN ('prepared', 'settled', 'superseded')),
    prepared_by      text NOT NULL,
    prepared_by_key  uuid,
    prepared_at      timestamptz NOT NULL DEFAULT now(),
    attested_by      text,
    attested_by_key  uuid,
    attested_at      timestamptz,
    total            numeric(14, 2) NOT NULL,
    totals           jsonb NOT NULL,         -- per component
    totals_by_area   jsonb NOT NULL,
    accounts         jsonb NOT NULL,         -- per booking account (the components' `account`)
    tariffs          text[] NOT NULL,
    audit_seq        bigint,                 -- the audit chain's head when attested
    audit_hash       text,
    sha256           text,                   -- over the canonical JSON of `document`
    document         jsonb,                  -- the settled provider-period, unmasked, as hashed
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, id),
    CHECK ((status = 'settled') = (attested_at IS NOT NULL AND sha256 IS NOT NULL AND document IS NOT NULL))
);
-- At most one settlement per provider-period, and at most one preparation waiting.
CREATE UNIQUE INDEX settlements_one_settled ON settlements (tenant_id, provider_id, period)
    WHERE status = 'settled';
CREATE UNIQUE INDEX settlements_one_prepared ON settlements (tenant_id, provider_id, period)
    WHERE status = 'prepared';

-- A settled row never changes again; a prepared one may only become settled or superseded.
CREATE FUNCTION settlements_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.status <> 'prepared' THEN
        RAISE EXCEPTION 'settlement % is %: % refused', OLD.id, OLD.status, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.status = 'prepared' OR (NEW.tenant_id, NEW.id, NEW.provider_id, NEW.period, NEW.run_id, NEW.prepared_by)
        IS DISTINCT FROM (OLD.tenant_id, OLD.id, OLD.provider_id, OLD.period, OLD.run_id, OLD.prepared_by) THEN
        RAISE EXCEPTION 'settlement %: only attesting or superseding a preparation is allowed', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER settlements_guard BEFORE UPDATE OR DELETE ON settlements
    FOR EACH ROW EXECUTE FUNCTION settlements_guard();

-- The frozen lines of a settlement (lines, reductions and adjustments; held lines are recorded in
-- the document only: they were not paid).
CREATE TABLE settlement_lines (
    tenant_id       text NOT NULL,
    settlement_id   uuid NOT NULL,
    ord             integer NOT NULL,
    run_line_id     uuid NOT NULL,
    kind            text NOT NULL,
    component       text NOT NULL,
    account         text NOT NULL,
    area            text NOT NULL,
    tariff_id       text NOT NULL,
    pnr             text,
    zone            text,
    unit            text,
    quantity        text,
    unit_price      numeric(12, 2),
    amount          numeric(14, 2) NOT NULL,
    original_period text,                    -- for an adjustment: the period it corrects
    PRIMARY KEY (tenant_id, settlement_id, ord),
    FOREIGN KEY (tenant_id, settlement_id) REFERENCES settlements (tenant_id, id)
);

CREATE TRIGGER settlement_lines_immutable BEFORE UPDATE OR DELETE ON settlement_lines
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER settlement_lines_no_truncate BEFORE TRUNCATE ON settlement_lines
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER settlements_no_truncate BEFORE TRUNCATE ON settlements
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- The change feed. Positions are handed out by locking the tenant's feed_head row, which is held to
-- the end of the transaction: a position is committed before the next one can be assigned, so a
-- poller reading "after N" never skips one that commits later (a plain sequence would allow it).
CREATE TABLE feed_head (
    tenant_id text PRIMARY KEY REFERENCES tenants (id),
    position  bigint NOT NULL
);

CREATE TABLE feed (
    tenant_id       text NOT NULL,
    position        bigint NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('settlement', 'adjustment')),
    settlement_id   uuid NOT NULL,
    provider_id     text NOT NULL,
    period          text NOT NULL,
    original_period text,                    -- for an adjustment: the corrected period
    amount          numeric(14, 2) NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, position),
    FOREIGN KEY (tenant_id, settlement_id) REFERENCES settlements (tenant_id, id)
);

CREATE TRIGGER feed_append_only BEFORE UPDATE OR DELETE ON feed
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
