-- +goose Up
-- The proof that a deletion ran. It outlives the project and holds no personal data: a visitor
-- appears only as its blinded hash.
CREATE TABLE deletion_requests (
    id              uuid PRIMARY KEY,
    project_id      uuid NOT NULL,
    scope           text NOT NULL CHECK (scope IN ('visitor', 'personas', 'all')),
    visitor_hash    bytea,
    requested_by    uuid,              -- user id; NULL for a visitor's own request from the site
    origin          text NOT NULL DEFAULT 'api',  -- api, site, retention
    status          text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    step            text NOT NULL DEFAULT '',     -- where the cascade is: resumes from here
    counts          jsonb NOT NULL DEFAULT '{}',
    error           text NOT NULL DEFAULT '',
    key_destroyed_at timestamptz,
    retrain_version integer,
    receipt         jsonb,
    signature       bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);
CREATE INDEX deletion_requests_project ON deletion_requests (project_id, created_at);
CREATE INDEX deletion_requests_open ON deletion_requests (status) WHERE status IN ('queued', 'running');

-- +goose Down
DROP TABLE deletion_requests;
