-- Listing (enrolled_month, domain.md 6b "Listing"): the enrolled days of the period on which the
-- provider is the customer's chosen provider earn the fee (pauses do not matter), zone per day.
-- Enrolled days on which it is not chosen earn nothing and raise NOT_CHOSEN_PROVIDER on the enrolment.
-- A day enrolled twice (two enrolments of one provider in one area) counts once, for the enrolment
-- with a remiss if there is one, else the earliest.
--
-- $1 first day, $2 day after the last, $3 provider or null, $4 the areas that earn a listing.

-- name: listing
CREATE TEMP TABLE kv_listing ON COMMIT DROP AS
WITH enrolled AS (
    SELECT e.provider_id, e.external_id, e.pnr, e.area, e.remiss, e.valid_from, e.changed_seq,
           datemultirange(e.during * daterange($1::date, $2::date))
               - coalesce(range_agg(e.during) OVER (
                     PARTITION BY e.provider_id, e.pnr, e.area
                     ORDER BY e.remiss IS NULL, e.valid_from, e.external_id COLLATE "C"
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), '{}') AS days
    FROM kv_enrol e
    WHERE e.area = ANY ($4::text[]) AND e.during && daterange($1::date, $2::date)
      AND ($3::text IS NULL OR e.provider_id = $3)
),
chosen AS (
    SELECT pnr, provider_id, range_agg(during) AS days FROM kv_choice GROUP BY pnr, provider_id
)
SELECT en.provider_id, en.external_id, en.pnr, en.area, en.remiss, en.valid_from, en.changed_seq,
       en.days * coalesce(ch.days, '{}') AS listed,
       en.days - coalesce(ch.days, '{}') AS unlisted
FROM enrolled en
LEFT JOIN chosen ch ON ch.pnr = en.pnr AND ch.provider_id = en.provider_id;

-- name: listed_days
-- $1 tariff spans [{"id", "valid_from", "valid_to"}].
WITH spans AS (
    SELECT id AS tariff_id, daterange(valid_from, valid_to + 1) AS during
    FROM jsonb_to_recordset($1::jsonb) AS t (id text, valid_from date, valid_to date)
),
split AS (
    SELECT l.provider_id, l.external_id, l.pnr, l.area, l.remiss, l.valid_from, l.changed_seq::text AS version,
           z.zone, sp.tariff_id, l.listed * datemultirange(z.during) * datemultirange(sp.during) AS days
    FROM kv_listing l
    JOIN kv_zone z ON z.pnr = l.pnr AND l.listed && datemultirange(z.during)
    JOIN spans sp ON l.listed && datemultirange(sp.during)
)
SELECT * FROM split WHERE NOT isempty(days);

-- name: unlisted_days
SELECT provider_id, external_id, pnr, area, valid_from, changed_seq::text AS version, unlisted AS days
FROM kv_listing
WHERE NOT isempty(unlisted);
