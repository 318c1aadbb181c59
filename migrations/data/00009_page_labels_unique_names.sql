-- +goose Up
-- A project's own names for its path groups ("/p/:id" → "Product pages"), read by the namer,
-- the prompt and the dashboard. Bounded in the application: at most 100 rows per project,
-- labels of at most 40 characters.
CREATE TABLE page_labels (
    project_id uuid NOT NULL,
    path_group text NOT NULL CHECK (length(path_group) BETWEEN 1 AND 200),
    label      text NOT NULL CHECK (length(label) BETWEEN 1 AND 40),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, path_group)
);

-- Names are unique among a project's current personas, ignoring case. A persona's row carries
-- the latest model version that holds it, and a retired one has cluster -1: the current
-- personas are the rows of the project's model version with a cluster. Keying on the version
-- lets a publication move matched personas to the new version one by one while the personas
-- they replace still sit at the old one.
-- Names given twice before this migration get a number, within the 40 characters.
WITH dup AS (
    SELECT project_id, id, name,
           row_number() OVER (PARTITION BY project_id, model_version, lower(name) ORDER BY created_at, id) AS n
    FROM personas WHERE cluster >= 0
)
UPDATE personas p SET name = left(dup.name, 40 - length(' ' || dup.n::text)) || ' ' || dup.n::text, updated_at = now()
FROM dup WHERE p.project_id = dup.project_id AND p.id = dup.id AND dup.n > 1;

CREATE UNIQUE INDEX personas_current_name ON personas (project_id, model_version, lower(name)) WHERE cluster >= 0;

-- +goose Down
DROP INDEX personas_current_name;
DROP TABLE page_labels;
