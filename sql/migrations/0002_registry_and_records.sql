-- The inputs of reconciliation (domain.md section 3): the registry's records and the providers'.
--
-- Conventions:
--  * tenant_id leads every key (distribution by tenant, docs/scaling.md).
--  * Customers are keyed by personnummer/samordningsnummer (12 digits, `pnr`); provider records keep the
--    number as posted, so a visit for a customer the registry does not know yet is stored (and raises
--    UNKNOWN_CUSTOMER) rather than refused.
--  * Validity is `valid_from`/`valid_to` (inclusive, null = open), with `during` the equivalent
--    half-open daterange for range operators and GiST indexes.
--  * `changed_seq` (one sequence for all inputs) is stamped on every insert and update: a run records
--    the highest it saw, and "has anything changed since" is one comparison.
--  * Provider records are unique per (tenant, provider, external_id); registry records per tenant.

CREATE SEQUENCE input_change_seq;

CREATE TABLE insatser (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    code        text NOT NULL CHECK (code ~ '^[a-z0-9_]{1,64}$'),
    title       text NOT NULL,
    category    text CHECK (category IN ('service', 'omsorg')),
    report_type text NOT NULL CHECK (report_type IN ('bistand', 'hsl_delegated', 'larm', 'hsl', 'rehab')),
    changed_seq bigint NOT NULL DEFAULT nextval('input_change_seq'),
    PRIMARY KEY (tenant_id, code),
    CHECK ((category IS NOT NULL) = (report_type = 'bistand'))
);

CREATE TABLE customers (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    pnr         text NOT NULL CHECK (pnr ~ '^[0-9]{12}$'),
    ref         text NOT NULL,  -- opaque reference shown where the number may not be
    name        text,
    protected   boolean NOT NULL DEFAULT false,  -- skyddad identitet
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    changed_seq bigint NOT NULL DEFAULT nextval('input_change_seq'),
    PRIMARY KEY (tenant_id, pnr),
    UNIQUE (tenant_id, ref)
);

CREATE TABLE customer_zones (
    tenant_id   text NOT NULL,
    pnr         text NOT NULL,
    valid_from  date NOT NULL,
    zone        text NOT NULL CHECK (zone IN ('tatort', 'landsbygd', 'skargard')),
    changed_seq bigint NOT NULL DEFAULT nextval('input_change_seq'),
    PRIMARY KEY (tenant_id, pnr, valid_from),
    FOREIGN KEY (tenant_id, pnr) REFERENCES customers (tenant_id, pnr)
);

CREATE TABLE provider_choices (
    tenant_id   text NOT NULL,
    pnr         text NOT NULL,
    valid_from  date NOT NULL,
    valid_to    date CHECK (valid_to >= valid_from),
    provider_id text NOT NULL,
    changed_seq bigint NOT NULL DEFAULT nextval('input_change_seq'),
    PRIMARY KEY (tenant_id, pnr, valid_from),
    FOREIGN KEY (tenant_id, pnr) REFERENCES customers (tenant_id, pnr),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id)
);

CREATE TABLE decisions (
    tenant_id   text NOT NULL,
    id          text NOT NULL CHECK (id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    pnr         text NOT NULL,
    decided_on  date NOT NULL,
    changed_seq bigint NOT NULL DEFAULT nextval('input_change_seq'),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, pnr) REFERENCES customers (tenant_id, pnr)
);
CREATE INDEX decisions_customer ON decisions (tenant_id, pnr);

CREATE TABLE decision_lines (
    tenant_id   text NOT NULL,
    id          text NOT NULL CHECK (id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    decision_id text NOT NULL,
    insats_code text NOT NULL,
    category    text NOT NULL CHECK (category IN ('service', 'omsorg')),
    minutes     numeric NOT NULL CHECK (minutes > 0),
    occasions   numeric NOT NULL CHECK (occasions > 0),
    per         text NOT NULL CHECK (per IN ('day', 'week', 'month')),
    valid_from  date NOT NULL,
    valid_to    date CHECK (valid_to >= valid_from),
    during      daterange GENERATED ALWAYS AS (daterange(valid_from, valid_to + 1)) STORED,
    changed_seq bigint NOT NULL DEFAULT nextval('input_change_seq'),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, decision_id) REFERENCES decisions (tenant_id, id),
    FOREIGN KEY (tenant_id, insats_code) REFERENCES insatser (tenant_id, code)
);
CREATE INDEX decision_lines_decision ON decision_lines (tenant_id, decision_id);

-- Provider records ------------------------------------------------------------------------------

CREATE TABLE executions (
    tenant_id   text NOT NULL,
    provider_id text NOT NULL,
    external_id text NOT NULL CHECK (external_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    decision_id text NOT NULL,
    valid_from  date NOT NULL,
    valid_to    date CHECK (valid_to >= valid_from),
    during      daterange GENERATED ALWAYS AS (daterange(valid_from, valid_to + 1)) STORED,
    changed_seq bigint NOT NULL DEFAULT nextval('input_change_seq'),
    PRIMARY KEY (tenant_id, provider_id, external_id),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id),
    FOREIGN KEY (tenant_id, decision_id) REFERENCES decisions (tenant_id, id)
);
CREATE INDEX executions_decision ON executions (tenant_id, decision_id);

CREATE TABLE pauses (
    tenant_id   text NOT NULL,
    provider_id text NOT NULL,  -- who registered it; a pause counts for every provider
    external_id text NOT NULL CHECK (external_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    pnr         text NOT NULL CHECK (pnr ~ '^[0-9]{12}$'),
    reason      text NOT NULL CHECK (reason IN ('sjukhus', 'korttidsboende', 'kundens_begaran', 'annat')),
    valid_from  date NOT NULL,
    valid_to    date CHECK (valid_to >= valid_from),
    during      daterange GENERATED ALWAYS AS (daterange(valid_from, valid_to + 1)) STORED,
    changed_seq bigint NOT NULL DEFAULT nextval('input_change_seq'),
    PRIMARY KEY (tenant_id, provider_id, external_id),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id)
);
CREATE INDEX pauses_customer ON pauses (tenant_id, pnr);

CREATE TABLE enrolments (
    tenant_id   text NOT NULL,
    provider_id text NOT NULL,
    external_id text NOT NULL CHECK (external_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    pnr         text NOT NULL CHECK (pnr ~ '^[0-9]{12}$'),
    area        text NOT NULL CHECK (area IN ('hemsjukvard', 'hemrehab')),
    valid_from  date NOT NULL,
    valid_to    date CHECK (valid_to >= valid_from),
    during      daterange GENERATED ALWAYS AS (daterange(valid_from, valid_to + 1)) STORED,
    remiss      text,
    changed_seq bigint NOT NULL DEFAULT nextval('input_change_seq'),
    PRIMARY KEY (tenant_id, provider_id, external_id),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id)
);
CREATE INDEX enrolments_customer ON enrolments (tenant_id, pnr);

CREATE TABLE delegations (
    tenant_id   text NOT NULL,
    provider_id text NOT NULL,
    external_id text NOT NULL CHECK (external_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    pnr         text NOT NULL CHECK (pnr ~ '^[0-9]{12}$'),
    insats_code text NOT NULL,
    valid_from  date NOT NULL,
    valid_to    date CHECK (valid_to >= valid_from),
    during      daterange GENERATED ALWAYS AS (daterange(valid_from, valid_to + 1)) STORED,
    changed_seq bigint NOT NULL DEFAULT nextval('input_change_seq'),
    PRIMARY KEY (tenant_id, provider_id, external_id),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id),
    FOREIGN KEY (tenant_id, insats_code) REFERENCES insatser (tenant_id, code)
);
CREATE INDEX delegations_customer ON delegations (tenant_id, pnr);

-- Visits: the bulk of the data (about 2 000 000 a month at Stockholm's size).
CREATE TABLE visits (
    tenant_id      text NOT NULL,
    provider_id    text NOT NULL,
    external_id    text NOT NULL CHECK (external_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    pnr            text NOT NULL CHECK (pnr ~ '^[0-9]{12}$'),
    staff_id       text NOT NULL,
    staff_category text NOT NULL CHECK (staff_category IN
        ('vardbitrade', 'underskoterska', 'sjukskoterska', 'distriktsskoterska', 'fysioterapeut', 'arbetsterapeut')),
    report_type    text NOT NULL CHECK (report_type IN ('bistand', 'hsl_delegated', 'larm', 'hsl', 'rehab')),
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz NOT NULL CHECK (ended_at > started_at),
    -- The calendar day a visit belongs to: its local start (domain.md section 4).
    service_date   date GENERATED ALWAYS AS ((started_at AT TIME ZONE 'Europe/Stockholm')::date) STORED,
    codes          text[] NOT NULL CHECK (cardinality(codes) > 0),
    method         text NOT NULL CHECK (method IN ('tag', 'manual')),
    status         text NOT NULL CHECK (status IN ('performed', 'declined', 'cancelled')),
    version        integer NOT NULL DEFAULT 1,
    content_hash   bytea NOT NULL,  -- SHA-256 of the posted content: a replay is recognised by it
    received_seq   bigint GENERATED ALWAYS AS IDENTITY,  -- arrival order ("first received" for DUPLICATE)
    received_at    timestamptz NOT NULL DEFAULT now(),
    changed_seq    bigint NOT NULL DEFAULT nextval('input_change_seq'),
    PRIMARY KEY (tenant_id, provider_id, external_id)
);
CREATE INDEX visits_day ON visits (tenant_id, service_date, provider_id);
CREATE INDEX visits_customer ON visits (tenant_id, pnr, service_date);

-- Earlier versions of corrected visits, with who corrected them and when.
CREATE TABLE visit_versions (
    tenant_id    text NOT NULL,
    provider_id  text NOT NULL,
    external_id  text NOT NULL,
    version      integer NOT NULL,
    content      jsonb NOT NULL,
    replaced_at  timestamptz NOT NULL DEFAULT now(),
    replaced_by  text NOT NULL,
    PRIMARY KEY (tenant_id, provider_id, external_id, version)
);

CREATE TABLE claims (
    tenant_id        text NOT NULL,
    provider_id      text NOT NULL,
    external_id      text NOT NULL CHECK (external_id ~ '^[A-Za-z0-9._:-]{1,64}$'),
    type             text NOT NULL CHECK (type IN ('sip', 'lakemedelsgenomgang', 'teamkonferens', 'extraordinar_insats')),
    claim_date       date NOT NULL,
    pnr              text CHECK (pnr ~ '^[0-9]{12}$'),
    sip_role         text CHECK (sip_role IN ('kallat', 'lett', 'deltagit')),
    requested_amount numeric(12, 2),
    motivation       text,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'withdrawn')),
    version          integer NOT NULL DEFAULT 1,
    content_hash     bytea NOT NULL,
    received_seq     bigint GENERATED ALWAYS AS IDENTITY,
    received_at      timestamptz NOT NULL DEFAULT now(),
    changed_seq      bigint NOT NULL DEFAULT nextval('input_change_seq'),
    PRIMARY KEY (tenant_id, provider_id, external_id),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id),
    CHECK ((type = 'teamkonferens') = (pnr IS NULL)),
    CHECK ((type = 'sip') = (sip_role IS NOT NULL)),
    CHECK ((type = 'extraordinar_insats') = (requested_amount IS NOT NULL AND motivation IS NOT NULL))
);
CREATE INDEX claims_day ON claims (tenant_id, claim_date);

-- Replies to single-object POSTs by Idempotency-Key: the same key and body get the first reply again.
CREATE TABLE idempotency_keys (
    tenant_id     text NOT NULL,
    key_id        uuid NOT NULL,  -- the API key that sent it: keys are scoped per caller
    idem_key      text NOT NULL,
    request_hash  bytea NOT NULL,
    status        integer NOT NULL,
    response      bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key_id, idem_key)
);

-- Derived spans: a provider choice lasts to its `to` or to the next choice; a zone to the next zone.
CREATE VIEW choice_spans AS
SELECT tenant_id, pnr, provider_id, valid_from,
       daterange(valid_from,
                 least(valid_to + 1,
                       lead(valid_from) OVER (PARTITION BY tenant_id, pnr ORDER BY valid_from))) AS during
FROM provider_choices;

CREATE VIEW zone_spans AS
SELECT tenant_id, pnr, zone, valid_from,
       daterange(valid_from, lead(valid_from) OVER (PARTITION BY tenant_id, pnr ORDER BY valid_from)) AS during
FROM customer_zones;
