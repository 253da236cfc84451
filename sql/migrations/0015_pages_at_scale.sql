-- The workplace's pages at a city's scale (docs/benchmarks.md, "The workplace's pages").

-- What a blocked record would earn if its blocking discrepancies were approved, its own price before
-- caps, as the run priced it: the queue's amount at stake for a discrepancy that holds no line (a
-- blocked visit). NULL where the run priced nothing for it.
ALTER TABLE run_discrepancies ADD COLUMN at_stake numeric(14, 2);

-- "Inputs changed since a run" (service/store/changes.py) asks per provider whether any of its visits
-- changed after the run's mark: with this index it reads only those visits, not all of the provider's.
CREATE INDEX visits_provider_changed ON visits (tenant_id, provider_id, changed_seq);
