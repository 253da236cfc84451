-- "Inputs changed since a run" (service/store/changes.py) asks whether any of a provider's visits of
-- the run's days changed after the run. By change stamp alone (0015's index) that read every visit of
-- the provider changed since: for a run of an earlier month, all of the later months' visits. By day
-- and then change stamp it reads, for each day of the period, only the visits of that day that
-- changed: a probe per day when none did.
DROP INDEX visits_provider_changed;
CREATE INDEX visits_provider_day_changed ON visits (tenant_id, provider_id, service_date, changed_seq);
