-- Follow-up figures of settled months (followup.md 1 and 2): once a provider's month is settled,
-- reports read its figures as they stood when it was attested, whatever is run later. They are
-- copied from the settled run's figures (run_followup, 0010) in the transaction that attests, and
-- never change: like the settlement, the database refuses every change.
CREATE TABLE settlement_followup (
    tenant_id          text NOT NULL,
    settlement_id      uuid NOT NULL,
    provider_id        text NOT NULL,
    period             text NOT NULL,
    run_id             uuid NOT NULL,
    granted_minutes    text NOT NULL,
    performed_minutes  text NOT NULL,
    customers_below_target integer NOT NULL CHECK (customers_below_target >= 0),
    licensed_visits    jsonb NOT NULL,
    declined_visits    integer NOT NULL CHECK (declined_visits >= 0),
    declined_customers text[] NOT NULL,
    customers_by_area  jsonb NOT NULL,
    payout_by_area     jsonb NOT NULL,
    PRIMARY KEY (tenant_id, settlement_id),
    UNIQUE (tenant_id, provider_id, period),   -- one settlement per provider-period
    FOREIGN KEY (tenant_id, settlement_id) REFERENCES settlements (tenant_id, id),
    FOREIGN KEY (tenant_id, run_id, provider_id) REFERENCES run_followup (tenant_id, run_id, provider_id)
);

-- Figures are frozen only with an attestation in progress (the settlement still prepared in the
-- attesting transaction, the row lock held) and only the settled run's.
CREATE FUNCTION settlement_followup_frozen() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    s record;
BEGIN
    SELECT status, provider_id, period, run_id INTO s FROM settlements
     WHERE tenant_id = NEW.tenant_id AND id = NEW.settlement_id FOR SHARE;
    IF s.status IS DISTINCT FROM 'prepared' THEN
        RAISE EXCEPTION 'settlement % is %: its figures are frozen', NEW.settlement_id, coalesce(s.status, 'unknown')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF (s.provider_id, s.period, s.run_id) IS DISTINCT FROM (NEW.provider_id, NEW.period, NEW.run_id) THEN
        RAISE EXCEPTION 'settlement %: figures of another provider, period or run', NEW.settlement_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER settlement_followup_frozen BEFORE INSERT ON settlement_followup
    FOR EACH ROW EXECUTE FUNCTION settlement_followup_frozen();
CREATE TRIGGER settlement_followup_immutable BEFORE UPDATE OR DELETE ON settlement_followup
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER settlement_followup_no_truncate BEFORE TRUNCATE ON settlement_followup
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
REVOKE UPDATE, DELETE ON settlement_followup FROM kundval_service;

-- Months settled before this migration: the figures their settled runs kept (runs stored before
-- 0010 kept none; reports show those months' payout from the settlement's totals per area).
ALTER TABLE settlement_followup DISABLE TRIGGER settlement_followup_frozen;
INSERT INTO settlement_followup (tenant_id, settlement_id, provider_id, period, run_id, granted_minutes,
                                 performed_minutes, customers_below_target, licensed_visits, declined_visits,
                                 declined_customers, customers_by_area, payout_by_area)
SELECT s.tenant_id, s.id, s.provider_id, s.period, s.run_id, f.granted_minutes, f.performed_minutes,
       f.customers_below_target, f.licensed_visits, f.declined_visits, f.declined_customers,
       f.customers_by_area, f.payout_by_area
FROM settlements s
JOIN run_followup f ON f.tenant_id = s.tenant_id AND f.run_id = s.run_id AND f.provider_id = s.provider_id
WHERE s.status = 'settled';
ALTER TABLE settlement_followup ENABLE TRIGGER settlement_followup_frozen;
