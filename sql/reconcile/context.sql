-- The registry's spans a run needs, cut to the run's window once and kept as temporary tables for
-- the run's transaction. Every statement: $1 tenant, $2 first day, $3 day after the last.
-- Provider choices and enrolments are read from the start of the calendar year (claim limits look
-- back over it); zones and pauses only for the period. None is cut to one provider: a check on one
-- provider's record may depend on another's (who is chosen, whose pause).

-- name: settings
-- For the run's transaction (no parameters). The engine's statements carry per-visit subqueries,
-- so their planned cost passes the JIT threshold although they run in seconds: compiling them costs
-- more than it saves (1 to 2 s per statement at 2 000 000 visits).
SET LOCAL jit = off;

-- name: choices
CREATE TEMP TABLE kv_choice ON COMMIT DROP AS
SELECT pnr, provider_id, during
FROM choice_spans
WHERE tenant_id = $1 AND during && daterange($2::date, $3::date);

-- name: zones
CREATE TEMP TABLE kv_zone ON COMMIT DROP AS
SELECT pnr, zone, during
FROM zone_spans
WHERE tenant_id = $1 AND during && daterange($2::date, $3::date);

-- name: pauses
CREATE TEMP TABLE kv_pause ON COMMIT DROP AS
SELECT pnr, provider_id, external_id, during
FROM pauses
WHERE tenant_id = $1 AND during && daterange($2::date, $3::date);

-- name: enrolments
CREATE TEMP TABLE kv_enrol ON COMMIT DROP AS
SELECT provider_id, external_id, pnr, area, remiss, valid_from, during, changed_seq
FROM enrolments
WHERE tenant_id = $1 AND during && daterange($2::date, $3::date);

-- name: context_indexes
-- The checks look these up per visit and claim; temporary tables are analyzed by hand.
CREATE INDEX ON kv_choice (pnr);
CREATE INDEX ON kv_zone (pnr);
CREATE INDEX ON kv_pause (pnr);
CREATE INDEX ON kv_enrol (provider_id, pnr);
ANALYZE kv_choice, kv_zone, kv_pause, kv_enrol;

-- name: paused_customers
-- Customers with a pause touching the period (GRANTED_WITHOUT_VISITS does not apply to them).
SELECT DISTINCT pnr FROM kv_pause;
