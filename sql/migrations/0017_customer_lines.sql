-- The workplace's customer screen (screen 5) lists one customer's lines of a period: with this index
-- that is a probe per provider's current run, not a read of the month's lines (93 000 at Stockholm).
CREATE INDEX run_lines_customer ON run_lines (tenant_id, pnr, run_id) WHERE pnr IS NOT NULL;
