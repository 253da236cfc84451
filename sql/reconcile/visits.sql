-- Performed visits of the period with the evidence of every visit check (domain.md 6 and 6b).
-- Each column after `components` is one check: its predicate, or the records that make it fail.
-- `flagged` is true when any check fails; only flagged visits go to Python (which turns the columns
-- into discrepancies and applies decisions), the others are summed here.
--
-- $1 tenant, $2 first day, $3 day after the last, $4 provider or null,
-- $5 tariff spans [{"id", "valid_from", "valid_to"}],
-- $6 the components that pay visits: [{"tariff_id", "component", "report_type", "exclude_codes",
--    "requires_enrolment", "category"}] (performed_time and visit_count),
-- $7 the tariffs' staff rules: [{"tariff_id", "report_type", "categories"}],
-- $8 the longest visit in seconds that is not LONG_VISIT (service/domain/discrepancies.py).
--
-- The "8 hours" of the OVERLAP narrowing below is not that rule: it is the threshold of the partial
-- index visits_staff_long (sql/migrations/0003), which any value would serve as well (a partner
-- starts less than it before the visit, or lasts longer than it); an index predicate cannot be a
-- parameter.

-- name: visits
-- One pass over the period's performed visits in the order of the index visits_month_staff
-- (provider, staff, start): the window below sees each staff member's visits in time order, which
-- decides DUPLICATE and narrows OVERLAP to a few candidates checked one by one; every other check is
-- a hash join or a lookup that runs only for the visits it concerns. The period is a calendar month.
CREATE TEMP TABLE kv_visits ON COMMIT DROP AS
WITH spans AS (
    SELECT id AS tariff_id, daterange(valid_from, valid_to + 1) AS during
    FROM jsonb_to_recordset($5::jsonb) AS t (id text, valid_from date, valid_to date)
),
paying AS (
    SELECT * FROM jsonb_to_recordset($6::jsonb)
        AS c (tariff_id text, component text, report_type text, exclude_codes text[], requires_enrolment text,
              category text)
),
-- A visit is `service` when every one of its codes is a service insats of the catalogue, otherwise
-- `omsorg` (followup.md 3): a component naming a category pays only visits of it.
service_codes AS (
    SELECT coalesce(array_agg(code), '{}') AS codes FROM insatser WHERE tenant_id = $1 AND category = 'service'
),
staff AS (
    SELECT * FROM jsonb_to_recordset($7::jsonb) AS s (tariff_id text, report_type text, categories text[])
),
paused AS (
    SELECT pnr, range_agg(during) AS days FROM kv_pause GROUP BY pnr
),
-- Visits a visit of the period may overlap that the window does not see, as time spans per staff:
-- those longer than 8 hours reaching into the period, and those starting less than 8 hours before
-- or after it.
outside AS (
    SELECT provider_id, staff_id, range_agg(tstzrange(started_at, ended_at)) AS spans
    FROM visits
    WHERE tenant_id = $1 AND status = 'performed' AND ($4::text IS NULL OR provider_id = $4)
      AND (ended_at - started_at > interval '8 hours'
               AND started_at < $3::date::timestamp AT TIME ZONE 'Europe/Stockholm' + interval '8 hours'
               AND ended_at > $2::date::timestamp AT TIME ZONE 'Europe/Stockholm'
           OR service_date = $2::date - 1
               AND ended_at > $2::date::timestamp AT TIME ZONE 'Europe/Stockholm'
           OR service_date = $3::date
               AND started_at < $3::date::timestamp AT TIME ZONE 'Europe/Stockholm' + interval '8 hours')
    GROUP BY provider_id, staff_id
),
performed AS (
    SELECT v.provider_id, v.external_id, v.pnr, v.staff_id, v.staff_category, v.report_type,
           v.started_at, v.ended_at, v.service_date, v.codes, v.method, v.changed_seq,
           extract(epoch FROM v.ended_at - v.started_at) AS seconds,
           -- DUPLICATE: the visits of a group (same customer, staff, report type and start) follow
           -- each other here in arrival order, so a visit is a copy when the one before it is of
           -- its group.
           lag(v.started_at) OVER w = v.started_at AND lag(v.pnr) OVER w = v.pnr
               AND lag(v.report_type) OVER w = v.report_type AS copy,
           -- OVERLAP candidates: an earlier visit of the staff that ends after this one starts, or a
           -- later one that starts before this one ends, passing over the neighbour on either side
           -- when it is at the same customer (the second report of one physical visit). Every
           -- overlap within the period is among them.
           max(v.ended_at) OVER w > v.started_at
               OR lag(v.pnr) OVER w <> v.pnr AND lag(v.ended_at) OVER w > v.started_at
               OR lead(v.pnr) OVER w <> v.pnr AND lead(v.started_at) OVER w < v.ended_at
               OR lead(v.started_at, 2) OVER w < v.ended_at AS meets
    FROM visits v
    -- The period's month, in the terms of the index visits_month_staff (sql/migrations/0006).
    WHERE v.tenant_id = $1 AND date_trunc('month', v.service_date::timestamp) = $2::date
      AND ($4::text IS NULL OR v.provider_id = $4) AND v.status = 'performed'
    WINDOW w AS (PARTITION BY v.provider_id, v.staff_id ORDER BY v.started_at, v.pnr, v.report_type, v.received_seq
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 2 PRECEDING)
),
checked AS (
    SELECT p.provider_id, p.external_id, p.pnr, p.staff_id, p.staff_category, p.report_type,
           p.service_date, p.started_at, p.ended_at, p.seconds, p.changed_seq, pay.tariff_id, z.zone, pay.components,
           -- UNKNOWN_CUSTOMER
           cu.pnr IS NULL AS unknown_customer,
           -- NOT_CHOSEN_PROVIDER (also when nobody is chosen); UNKNOWN_CUSTOMER takes its place
           cu.pnr IS NOT NULL AND ch.provider_id IS DISTINCT FROM p.provider_id AS not_chosen,
           -- NO_ENROLMENT: areas a paying component requires that no enrolment of this provider covers
           CASE WHEN cardinality(pay.areas) = 0 THEN '{}'::text[] ELSE
               ARRAY(SELECT unnest(pay.areas) EXCEPT SELECT e.area FROM kv_enrol e
                     WHERE e.provider_id = p.provider_id AND e.pnr = p.pnr AND e.during @> p.service_date)
           END AS missing_enrolment,
           -- DURING_PAUSE: the pauses covering the day, whoever registered them
           CASE WHEN pd.days @> p.service_date THEN
               (SELECT array_agg(pa.external_id ORDER BY pa.external_id) FROM kv_pause pa
                 WHERE pa.pnr = p.pnr AND pa.during @> p.service_date)
           END AS pauses,
           -- STAFF_CATEGORY: the tariff's staff rule for the report type
           pay.categories IS NOT NULL AND NOT p.staff_category = ANY (pay.categories) AS wrong_staff,
           -- OVERLAP: the same staff id at another customer at the same time (touching ends do not),
           -- looked up for the candidates, long visits and visits meeting one outside the period.
           -- Partners start less than 8 hours before the visit, or are longer than that: two index
           -- scans (visits_staff, visits_staff_long) instead of the staff's whole history.
           CASE WHEN p.meets OR p.ended_at - p.started_at > interval '8 hours'
                     OR os.spans && tstzrange(p.started_at, p.ended_at) THEN
               ARRAY(SELECT o.external_id FROM visits o
                      WHERE o.tenant_id = $1 AND o.provider_id = p.provider_id AND o.staff_id = p.staff_id
                        AND o.started_at > p.started_at - interval '8 hours' AND o.started_at < p.ended_at
                        AND o.ended_at > p.started_at AND o.pnr <> p.pnr AND o.status = 'performed'
                     UNION
                     SELECT o.external_id FROM visits o
                      WHERE o.tenant_id = $1 AND o.provider_id = p.provider_id AND o.staff_id = p.staff_id
                        AND o.ended_at - o.started_at > interval '8 hours' AND o.started_at < p.ended_at
                        AND o.ended_at > p.started_at AND o.pnr <> p.pnr AND o.status = 'performed'
                     ORDER BY 1)
           ELSE '{}' END AS overlapping,
           -- DUPLICATE: the first received of the group is the original
           CASE WHEN p.copy THEN
               (SELECT o.external_id FROM visits o
                 WHERE o.tenant_id = $1 AND o.provider_id = p.provider_id AND o.staff_id = p.staff_id
                   AND o.started_at = p.started_at AND o.pnr = p.pnr AND o.report_type = p.report_type
                   AND o.status = 'performed'
                 ORDER BY o.received_seq LIMIT 1)
           END AS duplicate_of,
           -- MANUAL_REGISTRATION: only where a performed_time or visit_count component pays the visit
           p.method = 'manual' AND cardinality(pay.components) > 0 AS manual,
           -- LONG_VISIT
           p.seconds > $8 AS long_visit
    FROM performed p
    LEFT JOIN customers cu ON cu.tenant_id = $1 AND cu.pnr = p.pnr
    LEFT JOIN kv_zone z ON z.pnr = p.pnr AND z.during @> p.service_date
    LEFT JOIN kv_choice ch ON ch.pnr = p.pnr AND ch.during @> p.service_date
    LEFT JOIN paused pd ON pd.pnr = p.pnr
    LEFT JOIN outside os ON os.provider_id = p.provider_id AND os.staff_id = p.staff_id
    -- The tariff version of the day, its staff rule for the report type, and the components that
    -- would pay the visit (its report type, unless all its codes are excluded): worked out once per
    -- distinct (day, report type, codes).
    CROSS JOIN service_codes sc
    CROSS JOIN LATERAL (
        SELECT sp.tariff_id, st.categories,
               coalesce(array_agg(c.component ORDER BY c.component)
                            FILTER (WHERE c.component IS NOT NULL), '{}') AS components,
               coalesce(array_agg(DISTINCT c.requires_enrolment)
                            FILTER (WHERE c.requires_enrolment IS NOT NULL), '{}') AS areas
        FROM (SELECT) AS one
        LEFT JOIN spans sp ON sp.during @> p.service_date
        LEFT JOIN staff st ON st.tariff_id = sp.tariff_id AND st.report_type = p.report_type
        LEFT JOIN paying c ON c.tariff_id = sp.tariff_id AND c.report_type = p.report_type
          AND NOT (c.exclude_codes IS NOT NULL AND p.codes <@ c.exclude_codes)
          AND (c.category IS NULL
               OR c.category = CASE WHEN p.codes <@ sc.codes THEN 'service' ELSE 'omsorg' END)
        GROUP BY sp.tariff_id, st.categories
    ) pay
    -- Not pulled up into the query below, so that each check runs once per visit.
    OFFSET 0
)
SELECT *,
       unknown_customer OR not_chosen OR cardinality(missing_enrolment) > 0 OR pauses IS NOT NULL
           OR wrong_staff OR cardinality(overlapping) > 0 OR duplicate_of IS NOT NULL OR manual OR long_visit
           AS flagged
FROM checked;

-- name: visits_statistics
-- The aggregates below plan on the table's real size and groups (autovacuum never analyzes a
-- temporary table); only their columns are analyzed.
ANALYZE kv_visits (provider_id, pnr, tariff_id, zone, report_type, components, flagged);

-- name: visit_lines
-- Unflagged visits summed per line: provider, component, tariff, customer and zone.
SELECT v.provider_id, c.component, v.tariff_id, v.pnr, v.zone, sum(v.seconds) AS seconds,
       count(*) AS visits, array_agg(v.external_id ORDER BY v.external_id) AS ids
FROM kv_visits v
CROSS JOIN LATERAL unnest(v.components) AS c (component)
WHERE NOT v.flagged
GROUP BY v.provider_id, c.component, v.tariff_id, v.pnr, v.zone;

-- name: performed
-- Unflagged performed seconds per provider, customer, tariff and report type: the bases of the
-- share cap, of LOW_PERFORMED_SHARE and of GRANTED_WITHOUT_VISITS.
SELECT provider_id, pnr, tariff_id, report_type, sum(seconds) AS seconds, count(*) AS visits
FROM kv_visits
WHERE NOT flagged
GROUP BY provider_id, pnr, tariff_id, report_type;

-- name: licensed
-- Unflagged performed visits by licensed staff, per provider and staff category (followup.md 1;
-- flagged ones are counted in Python, where their discrepancies' kinds are known). $1 the categories.
SELECT provider_id, staff_category, count(*) AS visits
FROM kv_visits
WHERE NOT flagged AND staff_category = ANY ($1::text[])
GROUP BY provider_id, staff_category;

-- name: flagged
SELECT provider_id, external_id, pnr, staff_id, staff_category, report_type, service_date, seconds,
       changed_seq::text AS version, tariff_id, zone, components, unknown_customer, not_chosen,
       ARRAY(SELECT unnest(missing_enrolment) ORDER BY 1) AS missing_enrolment,
       coalesce(pauses, '{}') AS pauses, wrong_staff, overlapping, duplicate_of, manual, long_visit,
       started_at, ended_at
FROM kv_visits
WHERE flagged;

-- name: declined
-- DECLINED_VISITS: customer-months with declined visits.
SELECT provider_id, pnr, array_agg(external_id ORDER BY external_id) AS ids
FROM visits
WHERE tenant_id = $1 AND service_date >= $2::date AND service_date < $3::date
  AND ($4::text IS NULL OR provider_id = $4) AND status = 'declined'
GROUP BY provider_id, pnr;
