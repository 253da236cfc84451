-- Granted time (domain.md 5, "Billable day"): a day d is billable for customer c, provider p and
-- decision line l when l is valid on d, an execution of l's decision by p covers d, p is c's chosen
-- provider on d, and no pause of c covers d. Days are split by zone (the zone of each day) and by
-- the tariff version in force; Python multiplies the days by the line's exact daily minutes.
--
-- $1 tenant, $2 first day, $3 day after the last, $4 provider or null,
-- $5 tariff spans: [{"id", "valid_from", "valid_to"}] (valid_to inclusive, null = open).

-- name: granted
CREATE TEMP TABLE kv_granted ON COMMIT DROP AS
WITH spans AS (
    SELECT id AS tariff_id, daterange(valid_from, valid_to + 1) AS during
    FROM jsonb_to_recordset($5::jsonb) AS t (id text, valid_from date, valid_to date)
),
lines AS (
    SELECT d.pnr, l.decision_id, l.id AS line_id, l.category, l.minutes, l.occasions, l.per,
           datemultirange(l.during * daterange($2::date, $3::date)) AS days
    FROM decision_lines l
    JOIN decisions d ON d.tenant_id = l.tenant_id AND d.id = l.decision_id
    WHERE l.tenant_id = $1 AND l.during && daterange($2::date, $3::date)
),
executed AS (
    SELECT decision_id, provider_id, range_agg(during) AS days
    FROM executions
    WHERE tenant_id = $1 AND during && daterange($2::date, $3::date)
      AND ($4::text IS NULL OR provider_id = $4)
    GROUP BY decision_id, provider_id
),
chosen AS (
    SELECT pnr, provider_id, range_agg(during) AS days FROM kv_choice GROUP BY pnr, provider_id
),
paused AS (
    SELECT pnr, range_agg(during) AS days FROM kv_pause GROUP BY pnr
),
billable AS (
    SELECT x.provider_id, l.pnr, l.decision_id, l.line_id, l.category, l.minutes, l.occasions, l.per,
           l.days * x.days * ch.days - coalesce(pa.days, '{}') AS days
    FROM lines l
    JOIN executed x ON x.decision_id = l.decision_id
    JOIN chosen ch ON ch.pnr = l.pnr AND ch.provider_id = x.provider_id
    LEFT JOIN paused pa ON pa.pnr = l.pnr
),
split AS (
    SELECT b.provider_id, b.pnr, b.decision_id, b.line_id, b.category, b.minutes, b.occasions, b.per,
           z.zone, sp.tariff_id, b.days * datemultirange(z.during) * datemultirange(sp.during) AS days
    FROM billable b
    JOIN kv_zone z ON z.pnr = b.pnr AND b.days && datemultirange(z.during)
    JOIN spans sp ON b.days && datemultirange(sp.during)
)
SELECT * FROM split WHERE NOT isempty(days);

-- name: granted_rows
SELECT provider_id, pnr, decision_id, line_id, category, minutes, occasions, per, zone, tariff_id, days
FROM kv_granted;

-- name: markup
-- Markup (granted_time_markup): the granted minutes of `category` on billable days on which the
-- customer has a delegation of a listed code from the same provider (domain.md 6b "Markup").
-- $1 tenant, $2 tariff id, $3 category, $4 delegation codes.
SELECT g.provider_id, g.pnr, g.decision_id, g.line_id, g.minutes, g.occasions, g.per, g.zone,
       dl.ids AS delegation_ids, g.days * dl.days AS days
FROM kv_granted g
CROSS JOIN LATERAL (
    SELECT range_agg(d.during) AS days, array_agg(d.external_id ORDER BY d.external_id) AS ids
    FROM delegations d
    WHERE d.tenant_id = $1 AND d.provider_id = g.provider_id AND d.pnr = g.pnr
      AND d.insats_code = ANY ($4::text[]) AND datemultirange(d.during) && g.days
) dl
WHERE g.tariff_id = $2 AND g.category = $3 AND dl.days IS NOT NULL;
