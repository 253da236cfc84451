-- Rate limits (domain.md 7b): one counter per bucket ("failed-auth:address:...", "write:key:...",
-- "write:address:...") and fixed window, shared by every service process. UNLOGGED: counters are
-- worth nothing after a crash, so they are not written to the WAL.
CREATE UNLOGGED TABLE rate_limits (
    bucket       text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

CREATE INDEX rate_limits_window ON rate_limits (window_start);
