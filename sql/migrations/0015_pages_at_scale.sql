-- The workplace's pages at a city's scale (docs/benchmarks.md, "The workplace's pages").

-- What a blocked record would earn if its blocking discrepancies were approved, its own price before
-- caps, as the run priced it: the queue's amount at stake for a discrepancy that holds no line (a
-- blocked visit or claim). NULL where the run priced nothing for it.
ALTER TABLE run_discrepancies ADD COLUMN at_stake numeric(14, 2);

-- "Inputs changed since a run" (service/store/changes.py) asks per provider whether any of its visits
-- changed after the run's mark: with this index it reads only those visits, not all of the provider's.
CREATE INDEX visits_provider_changed ON visits (tenant_id, provider_id, changed_seq);
-- ... and the newest change stamp of each input (a run's marks, and what it is compared with) is the
-- last entry of an index, not a scan of the table (visits and claims have theirs since 0003).
CREATE INDEX customers_changed ON customers (tenant_id, changed_seq);
CREATE INDEX customer_zones_changed ON customer_zones (tenant_id, changed_seq);
CREATE INDEX provider_choices_changed ON provider_choices (tenant_id, changed_seq);
CREATE INDEX decisions_changed ON decisions (tenant_id, changed_seq);
CREATE INDEX decision_lines_changed ON decision_lines (tenant_id, changed_seq);
CREATE INDEX delegations_changed ON delegations (tenant_id, changed_seq);
CREATE INDEX enrolments_changed ON enrolments (tenant_id, changed_seq);
CREATE INDEX executions_changed ON executions (tenant_id, changed_seq);
CREATE INDEX pauses_changed ON pauses (tenant_id, changed_seq);

-- The queue reads the discrepancies of each (provider, current run) pair: with this index it reads
-- those, however many runs the table holds (every run of a month adds all of its discrepancies).
CREATE INDEX run_discrepancies_provider ON run_discrepancies (tenant_id, run_id, provider_id);
