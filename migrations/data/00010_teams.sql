-- +goose Up
-- Teams (issue #19): invitations, password resets, two-factor sign-in, single sign-on and
-- sessions a person can review. Secrets are stored only as hashes (link tokens, recovery codes)
-- or sealed under the keyring (TOTP secrets, invited emails); emails are found by blind index.

-- An invitation to join a project with a role. The link token is shown once (or mailed) and
-- kept only as its SHA-256; a resend replaces it, so the old link dies. Per project: it leads
-- with project_id and goes with the project.
CREATE TABLE invitations (
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    role        text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer')),
    email_enc   bytea NOT NULL,              -- AES-GCM under the keyring, AD invitations/email/id
    email_index bytea NOT NULL,              -- blind index, as users.email_index
    token_hash  bytea NOT NULL UNIQUE,       -- SHA-256 of the link token
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid REFERENCES users (id) ON DELETE SET NULL,
    revoked_at  timestamptz,
    resent      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, id)
);
-- One open invitation per address and project.
CREATE UNIQUE INDEX invitations_open ON invitations (project_id, email_index)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_email ON invitations (email_index);
CREATE INDEX invitations_expires ON invitations (expires_at);

-- Single-use password reset links (1 h), kept only as their SHA-256.
CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX password_resets_user ON password_resets (user_id);
CREATE INDEX password_resets_expires ON password_resets (expires_at);

-- A user's TOTP secret (RFC 6238), sealed under the keyring. Unconfirmed until the user has
-- typed one code; last_used_step refuses a code replayed within its window.
CREATE TABLE user_totp (
    user_id        uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_enc     bytea NOT NULL,           -- AD user_totp/secret/user id
    created_at     timestamptz NOT NULL DEFAULT now(),
    confirmed_at   timestamptz,
    last_used_step bigint NOT NULL DEFAULT 0
);

-- One-time recovery codes, stored as keyed hashes (HMAC under the index key).
CREATE TABLE recovery_codes (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- A project's owner can require two-factor sign-in of every member.
ALTER TABLE projects ADD COLUMN require_two_factor boolean NOT NULL DEFAULT false;

-- Sessions a person can list and revoke: a public id (the hash stays the key), the device class
-- (never the IP or user agent), when it was last seen (to the minute), and its second factor:
-- two_factor_ok once a code was given, pending_second_factor while a sign-in awaits its code
-- (such a session authenticates nothing).
ALTER TABLE sessions
    ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN device_class text NOT NULL DEFAULT '' CHECK (length(device_class) <= 20),
    ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN two_factor_ok boolean NOT NULL DEFAULT false,
    ADD COLUMN pending_second_factor boolean NOT NULL DEFAULT false;
CREATE UNIQUE INDEX sessions_id ON sessions (id);

-- The OpenID Connect identity a user signed in with: a blind index of issuer and subject.
ALTER TABLE users ADD COLUMN oidc_subject bytea UNIQUE;

-- +goose Down
ALTER TABLE users DROP COLUMN oidc_subject;
DROP INDEX sessions_id;
ALTER TABLE sessions DROP COLUMN id, DROP COLUMN device_class, DROP COLUMN last_seen_at,
    DROP COLUMN two_factor_ok, DROP COLUMN pending_second_factor;
ALTER TABLE projects DROP COLUMN require_two_factor;
DROP TABLE recovery_codes, user_totp, password_resets, invitations;
