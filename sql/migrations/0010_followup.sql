-- Follow-up (followup.md): simulation tariffs, never in force.

-- simulation: a version that prices only what-if runs and comparisons (followup.md 3). It is loaded
-- as such, takes no activation, and may overlap any version: the overlap trigger guards active ones
-- only, and runs choose by date among active ones only.
ALTER TABLE tariffs DROP CONSTRAINT tariffs_status_check,
    ADD CONSTRAINT tariffs_status_check CHECK (status IN ('pending', 'active', 'superseded', 'simulation'));
ALTER TABLE tariffs DROP CONSTRAINT tariffs_check1,
    ADD CONSTRAINT tariffs_activated_check CHECK ((status IN ('pending', 'simulation')) = (activated_at IS NULL));

-- The follow-up figures of each provider in a run (followup.md 1), kept when the run is stored so
-- that reports over months read them instead of rescanning visits. Minutes are exact fractions as
-- text ("1170/420"); the customer sets are kept (not only counted) so that a tenant or a range of
-- months counts each customer once. Immutable like the run.
CREATE TABLE run_followup (
    tenant_id          text NOT NULL,
    run_id             uuid NOT NULL,
    provider_id        text NOT NULL,
    granted_minutes    text NOT NULL,
    performed_minutes  text NOT NULL,
    customers_below_target integer NOT NULL CHECK (customers_below_target >= 0),
    licensed_visits    jsonb NOT NULL,   -- {staff category: visits}
    declined_visits    integer NOT NULL CHECK (declined_visits >= 0),
    declined_customers text[] NOT NULL,  -- personnummer
    customers_by_area  jsonb NOT NULL,   -- {area: [personnummer]}
    payout_by_area     jsonb NOT NULL,   -- {area: "amount"}
    PRIMARY KEY (tenant_id, run_id, provider_id),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, id)
);

CREATE TRIGGER run_followup_immutable BEFORE UPDATE OR DELETE ON run_followup
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
-- Append-only for the service, like the run (sql/migrations/0008).
REVOKE UPDATE, DELETE ON run_followup FROM kundval_service;
