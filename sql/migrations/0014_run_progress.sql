-- How far each run has come (workplace.md, "Long runs show progress"). A run writes its row as it
-- starts and at each phase, outside its own transactions, so that every service process can show
-- it; the row is marked done in the transaction that stores the run (with its audit entry), so a row
-- still 'running' means that no run was stored. A process that dies mid-run leaves its row
-- 'running': readers take one not updated for a long while as interrupted (service/store/progress.py).
-- Nothing waits on these rows: two runs of one period at once both run, as they do through the API.
CREATE TABLE run_progress (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    period      text NOT NULL,
    provider_id text,                                   -- null: every provider
    forced_tariff text,
    started_by  text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- read, price, recompute (settled periods that changed), store
    phase       text NOT NULL CHECK (phase IN ('read', 'price', 'recompute', 'store')),
    recomputes  integer NOT NULL DEFAULT 0,             -- settled periods to recompute
    recomputed  integer NOT NULL DEFAULT 0,             -- of them stored
    state       text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed')),
    run_id      uuid,
    error       text,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, id),
    CHECK ((state = 'done') = (run_id IS NOT NULL))
);
CREATE INDEX run_progress_running ON run_progress (tenant_id, started_at) WHERE state = 'running';
