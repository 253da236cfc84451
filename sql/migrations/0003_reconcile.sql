-- Tariffs and reconciliation (domain.md sections 5-7): tariff versions per tenant, runs with their
-- lines and discrepancies, the stable identity of each discrepancy, and the decisions on them.
--
-- Runs, their lines and their discrepancies are written once and never changed: a settlement
-- (issue 5) freezes a run's lines by pointing at them. Decisions are an append-only history; the
-- latest per key is the one in force, and only for the record version it was made on.

-- Tariff versions ---------------------------------------------------------------------------------

CREATE TABLE tariffs (
    tenant_id    text NOT NULL REFERENCES tenants (id),
    id           text NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    title        text NOT NULL,
    -- Effective validity (inclusive; null = open): a later version ends an open-ended one the day
    -- before it starts, so valid_to may be earlier than the file's own.
    valid_from   date NOT NULL,
    valid_to     date CHECK (valid_to >= valid_from),
    during       daterange GENERATED ALWAYS AS (daterange(valid_from, valid_to + 1)) STORED,
    -- pending: loaded, waiting for a second invoice_admin; active: used by runs; superseded:
    -- replaced by a corrected version with the same validity.
    status       text NOT NULL CHECK (status IN ('pending', 'active', 'superseded')),
    source       text NOT NULL,          -- the TOML file as loaded
    content_hash text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    loaded_by    text NOT NULL,
    loaded_by_key uuid,                  -- the API key; null for the command line and the shipped files
    loaded_at    timestamptz NOT NULL DEFAULT now(),
    activated_by text,
    activated_by_key uuid,
    activated_at timestamptz,
    superseded_by text,
    PRIMARY KEY (tenant_id, id),
    CHECK ((status = 'pending') = (activated_at IS NULL))
);

-- Two active versions of one tenant never overlap (domain.md 7). An exclusion constraint would need
-- btree_gist for the tenant column, which is not core PostgreSQL; this trigger is the same guard.
CREATE FUNCTION tariffs_refuse_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    other text;
BEGIN
    IF NEW.status = 'active' THEN
        SELECT id INTO other FROM tariffs
         WHERE tenant_id = NEW.tenant_id AND id <> NEW.id AND status = 'active' AND during && NEW.during
         LIMIT 1;
        IF other IS NOT NULL THEN
            RAISE EXCEPTION 'tariff % overlaps active tariff %', NEW.id, other
                USING ERRCODE = 'exclusion_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER tariffs_no_overlap BEFORE INSERT OR UPDATE ON tariffs
    FOR EACH ROW EXECUTE FUNCTION tariffs_refuse_overlap();

-- Runs ----------------------------------------------------------------------------------------

CREATE TABLE runs (
    tenant_id     text NOT NULL REFERENCES tenants (id),
    id            uuid NOT NULL,
    seq           bigint GENERATED ALWAYS AS IDENTITY,  -- order of runs; the latest real one is current
    period        text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    provider_id   text,                                 -- null: every provider
    -- real: the period's run; whatif: priced under a forced tariff, a simulation kept apart.
    kind          text NOT NULL CHECK (kind IN ('real', 'whatif')),
    forced_tariff text,
    tariffs       text[] NOT NULL,                      -- versions that priced the period
    started_by    text NOT NULL,
    started_by_key uuid,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    duration_ms   integer NOT NULL,
    input_seq     bigint NOT NULL,                      -- highest changed_seq among the inputs read
    input_marks   jsonb NOT NULL,                       -- the same per input table
    decision_seq  bigint NOT NULL,                      -- highest discrepancy decision applied
    grand_total   numeric(14, 2) NOT NULL,
    summary       jsonb NOT NULL,                       -- per provider: total, held, open blocking
    warnings      jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, seq),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id),
    FOREIGN KEY (tenant_id, forced_tariff) REFERENCES tariffs (tenant_id, id),
    CHECK ((kind = 'whatif') = (forced_tariff IS NOT NULL))
);
CREATE INDEX runs_period ON runs (tenant_id, period, kind, seq);

-- Invoice lines, held lines and reduction lines of a run. Quantities are exact fractions
-- ("1170/420"); `amount` is the line's amount rounded once (for a held line: the amount it would
-- have if approved). `trail` names every source record by kind.
CREATE TABLE run_lines (
    tenant_id   text NOT NULL,
    id          uuid NOT NULL,
    run_id      uuid NOT NULL,
    ord         integer NOT NULL,
    provider_id text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('line', 'held', 'reduction')),
    component   text NOT NULL,
    area        text NOT NULL,
    basis       text NOT NULL,
    tariff_id   text NOT NULL,
    rule        text NOT NULL,
    pnr         text,
    zone        text CHECK (zone IN ('tatort', 'landsbygd', 'skargard')),
    unit        text CHECK (unit IN ('hour', 'month', 'visit', 'occasion')),
    quantity    text,
    unit_price  numeric(12, 2),
    amount      numeric(14, 2) NOT NULL,
    held_by     text,                                   -- the key of the discrepancy holding it
    discrepancy text,                                   -- for a reduction: the info discrepancy
    trail       jsonb NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, run_id, ord),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, id),
    CHECK ((kind = 'held') = (held_by IS NOT NULL))
);
CREATE INDEX run_lines_provider ON run_lines (tenant_id, run_id, provider_id, kind);

-- Discrepancies ---------------------------------------------------------------------------------

-- One row per stable key: the opaque id the API addresses it by, kept across runs.
CREATE TABLE discrepancies (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    key         text NOT NULL,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    code        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('blocking', 'hard', 'info')),
    provider_id text NOT NULL,
    first_seen  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key),
    UNIQUE (tenant_id, id)
);

-- What each run found. `status` is as the run applied it; `version` is the version of the record
-- (or of the evidence, for customer- and provider-months) a decision must have been made on.
CREATE TABLE run_discrepancies (
    tenant_id       text NOT NULL,
    run_id          uuid NOT NULL,
    key             text NOT NULL,
    provider_id     text NOT NULL,
    code            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('blocking', 'hard', 'info')),
    record          text NOT NULL,
    pnr             text,
    day             text NOT NULL,                      -- YYYY-MM-DD, or YYYY-MM for a month
    status          text NOT NULL CHECK (status IN ('open', 'approved', 'rejected')),
    decision_seq    bigint,                             -- the decision the run applied
    version         text NOT NULL,
    detail          text NOT NULL,
    provider_detail text NOT NULL,                      -- phrased from the provider's own view
    PRIMARY KEY (tenant_id, run_id, key),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, id),
    FOREIGN KEY (tenant_id, key) REFERENCES discrepancies (tenant_id, key)
);
CREATE INDEX run_discrepancies_key ON run_discrepancies (tenant_id, key);

CREATE TABLE discrepancy_decisions (
    tenant_id   text NOT NULL,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    key         text NOT NULL,
    decision    text NOT NULL CHECK (decision IN ('approve', 'reject')),
    reason      text NOT NULL CHECK (btrim(reason) <> ''),
    amount      numeric(12, 2) CHECK (amount >= 0),     -- EXTRAORDINARY: the approved amount
    version     text NOT NULL,                          -- the record version it was made on
    decided_by  text NOT NULL,
    decided_by_key uuid,
    decided_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, seq),
    FOREIGN KEY (tenant_id, key) REFERENCES discrepancies (tenant_id, key)
);
CREATE INDEX discrepancy_decisions_key ON discrepancy_decisions (tenant_id, key, seq);

CREATE TRIGGER runs_immutable BEFORE UPDATE OR DELETE ON runs
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER run_lines_immutable BEFORE UPDATE OR DELETE ON run_lines
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER run_discrepancies_immutable BEFORE UPDATE OR DELETE ON run_discrepancies
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER discrepancy_decisions_append_only BEFORE UPDATE OR DELETE ON discrepancy_decisions
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- Indexes the engine's checks use on the input tables -------------------------------------------

-- OVERLAP: one staff id's visits by time, and its few visits over 8 hours apart (sql/reconcile/visits.sql);
-- high-water marks by change.
CREATE INDEX visits_staff ON visits (tenant_id, provider_id, staff_id, started_at);
CREATE INDEX visits_staff_long ON visits (tenant_id, provider_id, staff_id, started_at)
    WHERE ended_at - started_at > interval '8 hours';
CREATE INDEX visits_changed ON visits (tenant_id, changed_seq);
CREATE INDEX claims_changed ON claims (tenant_id, changed_seq);
