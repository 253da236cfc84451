-- Corrections after close (domain.md 7): when inputs or decisions of a settled provider-period
-- change, a run of a later period recomputes it and books the difference to what was paid as
-- adjustment lines in the provider's earliest period after it that is not settled.

-- A recomputation of a settled period is a run of its own ('recompute'): stored like any run so its
-- lines can be read and linked, but never the period's current run (that stays the settled one).
ALTER TABLE runs DROP CONSTRAINT runs_kind_check;
ALTER TABLE runs ADD CONSTRAINT runs_kind_check CHECK (kind IN ('real', 'whatif', 'recompute'));

-- An adjustment line: the difference, per component, customer, zone and tariff version, between a
-- recomputed settled period and what was paid for it (settled lines plus settled adjustments);
-- detail.original_period names the period it corrects.
ALTER TABLE run_lines DROP CONSTRAINT run_lines_kind_check;
ALTER TABLE run_lines ADD CONSTRAINT run_lines_kind_check
    CHECK (kind IN ('line', 'held', 'reduction', 'adjustment'));

-- Which settled periods a real run recomputed, and the recompute run of each. Once that real run
-- is settled, its recomputation is what the period's payments (settled lines plus adjustments)
-- add up to: the baseline that later changes are detected against.
CREATE TABLE run_recomputes (
    tenant_id        text NOT NULL,
    run_id           uuid NOT NULL,          -- the real run that booked the differences
    provider_id      text NOT NULL,
    original_period  text NOT NULL CHECK (original_period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    recompute_run_id uuid NOT NULL,
    adjustments      integer NOT NULL,       -- adjustment lines booked (0: it paid what was settled)
    PRIMARY KEY (tenant_id, run_id, provider_id, original_period),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, id),
    FOREIGN KEY (tenant_id, recompute_run_id) REFERENCES runs (tenant_id, id)
);
CREATE INDEX run_recomputes_period ON run_recomputes (tenant_id, provider_id, original_period);

CREATE TRIGGER run_recomputes_immutable BEFORE UPDATE OR DELETE ON run_recomputes
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- What was paid for a period: its settlement, and adjustments of it in later settlements.
CREATE INDEX settlements_run ON settlements (tenant_id, run_id);
CREATE INDEX settlement_lines_original ON settlement_lines (tenant_id, original_period)
    WHERE original_period IS NOT NULL;
