-- Claims with the facts their checks need (domain.md 5 and 6b "Claim limits"). Every provider's
-- claims of the calendar year up to the period's end are read: limits look across providers and
-- back over the year; Python tests them in (date, provider, external id) order.
--
-- $1 tenant, $2 first day of the year, $3 day after the period.

-- name: claims
SELECT c.provider_id, c.external_id, c.type, c.claim_date, c.pnr, c.requested_amount, c.motivation,
       c.changed_seq::text AS version,
       c.pnr IS NULL OR cu.pnr IS NOT NULL AS known_customer,
       ch.provider_id IS NOT DISTINCT FROM c.provider_id AS chosen,
       coalesce((SELECT array_agg(DISTINCT e.area) FROM kv_enrol e
                  WHERE e.provider_id = c.provider_id AND e.pnr = c.pnr AND e.during @> c.claim_date),
                '{}') AS enrolled_areas
FROM claims c
LEFT JOIN customers cu ON cu.tenant_id = c.tenant_id AND cu.pnr = c.pnr
LEFT JOIN kv_choice ch ON ch.pnr = c.pnr AND ch.during @> c.claim_date
WHERE c.tenant_id = $1 AND c.status = 'active' AND c.claim_date >= $2::date AND c.claim_date < $3::date;
