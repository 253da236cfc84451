-- One invoice line from pricing to settlement (docs/reconciliation.md, "The invoice line").
--
-- An adjustment line names what it corrects in columns of its own, with foreign keys, instead of in
-- run_lines.detail: the settled period and run, the recomputation, and the lines on either side
-- (Kill Bill's linked_item_id; an adjustment corrects a group of lines, so the links are rows).
-- Existing adjustments move here; settlements are not touched, so each keeps its SHA-256, and a
-- settled document built again from the moved lines is the same (tests/integration/test_migrations.py).

CREATE TABLE run_line_adjustments (
    tenant_id         text NOT NULL,
    line_id           uuid NOT NULL,         -- the adjustment line
    original_period   text NOT NULL CHECK (original_period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    adjusts           text NOT NULL CHECK (adjusts IN ('line', 'reduction')),
    settled_run_id    uuid NOT NULL,         -- the original period's settled run
    recompute_run_id  uuid NOT NULL,         -- the recomputation the difference was taken from
    paid_amount       numeric(14, 2) NOT NULL,  -- paid so far: settled lines plus settled adjustments
    recomputed_amount numeric(14, 2) NOT NULL,
    PRIMARY KEY (tenant_id, line_id),
    FOREIGN KEY (tenant_id, line_id) REFERENCES run_lines (tenant_id, id),
    FOREIGN KEY (tenant_id, settled_run_id) REFERENCES runs (tenant_id, id),
    FOREIGN KEY (tenant_id, recompute_run_id) REFERENCES runs (tenant_id, id)
);

-- The lines an adjustment links, in order: the settled lines it corrects (original), settled
-- adjustments of the same (earlier), and the recomputation's lines (recomputed).
CREATE TABLE run_line_links (
    tenant_id      text NOT NULL,
    line_id        uuid NOT NULL,
    relation       text NOT NULL CHECK (relation IN ('original', 'earlier', 'recomputed')),
    n              integer NOT NULL,
    linked_line_id uuid NOT NULL,
    PRIMARY KEY (tenant_id, line_id, relation, n),
    FOREIGN KEY (tenant_id, line_id) REFERENCES run_line_adjustments (tenant_id, line_id),
    FOREIGN KEY (tenant_id, linked_line_id) REFERENCES run_lines (tenant_id, id)
);

CREATE TRIGGER run_line_adjustments_immutable BEFORE UPDATE OR DELETE ON run_line_adjustments
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER run_line_links_immutable BEFORE UPDATE OR DELETE ON run_line_links
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

INSERT INTO run_line_adjustments (tenant_id, line_id, original_period, adjusts, settled_run_id,
                                  recompute_run_id, paid_amount, recomputed_amount)
SELECT tenant_id, id, detail ->> 'original_period', detail ->> 'adjusts', (detail ->> 'settled_run')::uuid,
       (detail ->> 'recompute_run')::uuid, (detail ->> 'paid_amount')::numeric,
       (detail ->> 'recomputed_amount')::numeric
FROM run_lines
WHERE kind = 'adjustment';

INSERT INTO run_line_links (tenant_id, line_id, relation, n, linked_line_id)
SELECT l.tenant_id, l.id, r.relation, x.n, x.id::uuid
FROM run_lines l
CROSS JOIN (VALUES ('original', 'original_lines'), ('earlier', 'earlier_adjustments'),
                   ('recomputed', 'recomputed_lines')) AS r (relation, field)
CROSS JOIN LATERAL jsonb_array_elements_text(l.detail -> r.field) WITH ORDINALITY AS x (id, n)
WHERE l.kind = 'adjustment';

-- Lines are immutable to the service; the owner moves the links out of `detail` once.
ALTER TABLE run_lines DISABLE TRIGGER run_lines_immutable;
UPDATE run_lines
SET detail = detail - ARRAY['original_period', 'adjusts', 'settled_run', 'recompute_run', 'paid_amount',
                            'recomputed_amount', 'original_lines', 'earlier_adjustments', 'recomputed_lines']
WHERE kind = 'adjustment';
ALTER TABLE run_lines ENABLE TRIGGER run_lines_immutable;

-- A settled line is the frozen copy of a run's line.
ALTER TABLE settlement_lines
    ADD FOREIGN KEY (tenant_id, run_line_id) REFERENCES run_lines (tenant_id, id);

-- "Inputs changed since a run" looks up the claims of a customer (service/store/changes.py).
CREATE INDEX claims_customer ON claims (tenant_id, pnr, claim_date);

-- The current run of a period for a provider, its one definition: the latest real run that covered
-- the provider (what-if and recompute runs are never current).
CREATE VIEW current_runs AS
SELECT DISTINCT ON (r.tenant_id, r.period, p.id) r.tenant_id, r.period, p.id AS provider_id, r.id AS run_id
FROM runs r
JOIN providers p ON p.tenant_id = r.tenant_id AND (r.provider_id IS NULL OR r.provider_id = p.id)
WHERE r.kind = 'real'
ORDER BY r.tenant_id, r.period, p.id, r.seq DESC;
