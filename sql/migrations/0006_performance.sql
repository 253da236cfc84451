-- Indexes for a reconciliation run at a city's scale (docs/benchmarks.md, "Reconciliation at scale").

-- The visit checks read one month of performed visits in staff order (provider, staff, start: the
-- window of sql/reconcile/visits.sql). This index yields exactly that, however many months the table
-- holds, as a partition by month would (docs/scaling.md); without it the month is sorted, or the
-- staff order is read across every month.
CREATE INDEX visits_month_staff ON visits
    (tenant_id, (date_trunc('month', service_date::timestamp)), provider_id, staff_id, started_at)
    WHERE status = 'performed';

-- DECLINED_VISITS reads the declined visits of a month: a few percent of them.
CREATE INDEX visits_declined ON visits (tenant_id, service_date) WHERE status = 'declined';
