-- +goose Up
-- Accounts, projects and access. Users are not project data: they outlive projects.
CREATE TABLE users (
    id             uuid PRIMARY KEY,
    email_enc      bytea NOT NULL,            -- AES-GCM under the keyring, AD users/email
    email_index    bytea NOT NULL UNIQUE,     -- blind index (HMAC) for look-up
    password_hash  text NOT NULL DEFAULT '',  -- argon2id PHC string; '' = cannot log in
    platform_admin boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    id                 uuid PRIMARY KEY,
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    site_key           text NOT NULL UNIQUE,
    allowed_origins    text[] NOT NULL DEFAULT '{}',
    excluded_selectors text[] NOT NULL DEFAULT '{}',
    allowed_query_keys text[] NOT NULL DEFAULT '{}',
    data_attributes    text[] NOT NULL DEFAULT '{}',
    sample_rate        double precision NOT NULL DEFAULT 1 CHECK (sample_rate > 0 AND sample_rate <= 1),
    respect_gpc        boolean NOT NULL DEFAULT true,
    respect_dnt        boolean NOT NULL DEFAULT false,
    cookieless         boolean NOT NULL DEFAULT false,
    retention          jsonb NOT NULL DEFAULT '{}',  -- per-table expiry overrides in days (shorter only)
    model_version      integer,                      -- currently published persona model
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE UNIQUE INDEX memberships_one_owner ON memberships (project_id) WHERE role = 'owner';
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    prefix       text NOT NULL,                -- first characters, to recognise a token in a list
    hash         bytea NOT NULL UNIQUE,        -- SHA-256 of the whole token
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    hash         bytea PRIMARY KEY,            -- SHA-256 of the cookie value
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

-- Who did what to which project. No secrets, no personal data: actor is a user id.
-- Account-level actions use the nil project id.
CREATE TABLE audit_log (
    project_id uuid NOT NULL,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    actor_id   uuid,
    action     text NOT NULL,
    target     text NOT NULL DEFAULT '',
    details    jsonb NOT NULL DEFAULT '{}',
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, id)
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Failed log-ins, for back-off per account (blind index) and per client.
CREATE TABLE login_failures (
    subject    bytea NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_subject ON login_failures (subject, at);

-- +goose Down
DROP TABLE login_failures, audit_log, sessions, api_tokens, memberships, projects, users;
