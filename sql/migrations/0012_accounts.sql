-- Personal accounts and their browser sessions (workplace.md, "Personal accounts, not shared keys").
--
-- A user is a person: the workplace's sessions act as the user, with the user's role, and four eyes
-- compares users (as it compares API keys). Only an Argon2id hash of each password is stored. A user
-- is disabled, never deleted, so that the audit log's names keep meaning someone. Keyed by tenant like
-- every domain table; a username is unique across tenants because a login names no tenant (so, like
-- api_keys, a reference table when distributed: docs/scaling.md).
CREATE TABLE users (
    tenant_id     text NOT NULL REFERENCES tenants (id),
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z][a-z0-9._-]{1,62}$'),
    name          text NOT NULL CHECK (name <> ''),
    role          text NOT NULL CHECK (role IN ('provider', 'registry', 'invoice_admin', 'reader', 'auditor')),
    provider_id   text,
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    password_at   timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz,
    PRIMARY KEY (tenant_id, username),
    FOREIGN KEY (tenant_id, provider_id) REFERENCES providers (tenant_id, id),
    CHECK ((role = 'provider') = (provider_id IS NOT NULL))
);

-- Server-side sessions, shared by every service process. The browser holds a random token; only its
-- SHA-256 is stored. `csrf` is the session's token for forms. A session ends at logout, when it has
-- been idle too long (checked against last_seen on each request), or when its user is disabled or
-- gets a new password.
CREATE TABLE web_sessions (
    tenant_id  text NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    username   text NOT NULL,
    csrf       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    ended_at   timestamptz,
    ended_why  text CHECK (ended_why IN ('logout', 'idle', 'disabled', 'password')),
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, username) REFERENCES users (tenant_id, username)
);

CREATE INDEX web_sessions_user ON web_sessions (username) WHERE ended_at IS NULL;

-- The service (and the `kundval user` commands, which connect as it) creates and changes users and
-- sessions; users are never deleted, ended sessions may be cleared.
GRANT SELECT, INSERT, UPDATE ON users TO kundval_service;
REVOKE DELETE ON users FROM kundval_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON web_sessions TO kundval_service;
