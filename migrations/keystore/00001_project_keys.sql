-- +goose Up
-- The project data keys, only wrapped by the keyring (AD = project id). This database is kept apart
-- from the data so that no backup of the data holds a key. Destroying a row crypto-shreds a project.
CREATE TABLE project_keys (
    project_id  uuid NOT NULL,
    generation  integer NOT NULL,
    wrapped_key bytea NOT NULL,
    kek_id      text NOT NULL,          -- keyring key that wraps it, for rotation
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz,            -- set when data was re-sealed under a newer generation
    PRIMARY KEY (project_id, generation)
);

-- Tombstones: which projects' keys were destroyed, and when (the proof of crypto-shredding).
CREATE TABLE destroyed_keys (
    project_id   uuid PRIMARY KEY,
    destroyed_at timestamptz NOT NULL DEFAULT now(),
    generations  integer NOT NULL
);

-- +goose Down
DROP TABLE destroyed_keys, project_keys;
