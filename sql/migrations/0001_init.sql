-- Foundation: tenants, providers, API keys and the hash-chained audit log.
-- Every domain table leads with tenant_id so the schema can be distributed by tenant (docs/scaling.md).

CREATE TABLE tenants (
    id         text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{1,62}$'),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO tenants (id, name) VALUES ('kson', 'Kommunalförbundet Sjukvård och omsorg i Norrtälje');

CREATE TABLE providers (
    tenant_id  text NOT NULL REFERENCES tenants (id),
    id         text NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    orgnr      text NOT NULL CHECK (orgnr ~ '^[0-9]{10}$'),
    name       text NOT NULL CHECK (name <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, orgnr)
);

CREATE TABLE api_keys (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    id          uuid NOT NULL,
    name        text NOT NULL,
    role        text NOT NULL CHECK (role IN ('provider', 'registry', 'invoice_admin', 'reader', 'auditor')),
    provider_id text,
    key_hash    bytea NOT NULL UNIQUE,  -- SHA-256 of the key; the key itself is shown once and never stored
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id),
    CHECK ((role = 'provider') = (provider_id IS NOT NULL))
);

-- Append-only, hash-chained per tenant. audit_head holds the last position and hash of each chain: it
-- is the lock that orders writers, and comparing it with the last entry detects truncation.
CREATE TABLE audit_head (
    tenant_id text PRIMARY KEY REFERENCES tenants (id),
    seq       bigint NOT NULL,
    hash      text NOT NULL
);

CREATE TABLE audit_log (
    tenant_id      text NOT NULL REFERENCES tenants (id),
    seq            bigint NOT NULL,
    at             timestamptz NOT NULL,
    actor          text NOT NULL,         -- API key name (or "cli:<user>")
    actor_key      uuid,                  -- API key id; null for command-line actions
    role           text NOT NULL,
    provider_id    text,
    request_id     text,
    action         text NOT NULL,         -- e.g. "apikey.create", "visits.post"
    entity_kind    text NOT NULL,
    entity_ids     text[] NOT NULL DEFAULT '{}',
    payload_sha256 text,
    reason         text,
    before         jsonb,
    after          jsonb,
    prev_hash      text NOT NULL,
    hash           text NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

CREATE INDEX audit_log_actor ON audit_log (tenant_id, actor, seq);
CREATE INDEX audit_log_action ON audit_log (tenant_id, action, seq);
CREATE INDEX audit_log_at ON audit_log (tenant_id, at);

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
