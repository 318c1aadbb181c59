-- +goose Up
-- Versioned persona models. The blob (schema, scaler, centroids, variances, weights, metrics) is
-- sealed with the project data key, AD persona_models/model/project.
CREATE TABLE persona_models (
    project_id   uuid NOT NULL,
    version      integer NOT NULL,
    k            integer NOT NULL,
    n_visitors   bigint NOT NULL,
    metrics      jsonb NOT NULL DEFAULT '{}',
    model_enc    bytea NOT NULL,
    trained_at   timestamptz NOT NULL DEFAULT now(),
    stale_since  timestamptz,       -- a visitor it was trained on was erased
    replaced_by  integer,
    PRIMARY KEY (project_id, version)
);

-- Stable personas: an id keeps its name and picture across model versions.
CREATE TABLE personas (
    project_id        uuid NOT NULL,
    id                uuid NOT NULL,
    model_version     integer NOT NULL,   -- latest version that holds this persona
    cluster           integer NOT NULL,   -- index in that version's model; -1 when retired
    name              text NOT NULL,
    type              text NOT NULL,
    tagline           text NOT NULL DEFAULT '',
    summary           text NOT NULL DEFAULT '',
    goals             text[] NOT NULL DEFAULT '{}',
    frustrations      text[] NOT NULL DEFAULT '{}',
    suggested_actions text[] NOT NULL DEFAULT '{}',
    named_by          text NOT NULL CHECK (named_by IN ('llm', 'rules', 'person')),
    picture           text NOT NULL DEFAULT '',  -- SVG avatar
    share             double precision NOT NULL DEFAULT 0,
    size              bigint NOT NULL DEFAULT 0,
    stability         double precision,          -- share of previous members kept; NULL when new
    drift             double precision,
    traits            jsonb NOT NULL DEFAULT '{}',
    enriched_at       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, id)
);

-- Share, size and stability of each persona in each version: the drift chart.
CREATE TABLE persona_history (
    project_id    uuid NOT NULL,
    model_version integer NOT NULL,
    persona_id    uuid NOT NULL,
    cluster       integer NOT NULL,
    share         double precision NOT NULL,
    size          bigint NOT NULL,
    stability     double precision,
    PRIMARY KEY (project_id, model_version, persona_id)
);

-- Which visitors a model version was trained on, and their cluster: the previous labels of the
-- next training (persona stability) and what a visitor erasure must reach.
CREATE TABLE model_members (
    project_id    uuid NOT NULL,
    model_version integer NOT NULL,
    visitor_hash  bytea NOT NULL,
    cluster       smallint NOT NULL,
    PRIMARY KEY (project_id, model_version, visitor_hash)
);
CREATE INDEX model_members_visitor ON model_members (project_id, visitor_hash);

-- Latest known persona of each visitor.
CREATE TABLE visitor_personas (
    project_id    uuid NOT NULL,
    visitor_hash  bytea NOT NULL,
    persona_id    uuid,
    confidence    real NOT NULL,
    model_version integer NOT NULL,
    assigned_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, visitor_hash)
);
CREATE INDEX visitor_personas_assigned ON visitor_personas (assigned_at);

-- Training runs and why one did not publish.
CREATE TABLE training_runs (
    project_id    uuid NOT NULL,
    id            uuid NOT NULL,
    status        text NOT NULL CHECK (status IN ('queued', 'running', 'published', 'skipped', 'failed')),
    reason        text NOT NULL DEFAULT '',
    model_version integer,
    requested_by  uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    PRIMARY KEY (project_id, id)
);

-- The project's own words for enrichment, sealed with the project data key.
CREATE TABLE business_context (
    project_id  uuid PRIMARY KEY,
    context_enc bytea NOT NULL,
    updated_by  uuid,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Metadata of each LLM call. Never the prompt or the answer.
CREATE TABLE enrichment_log (
    project_id        uuid NOT NULL,
    id                bigint GENERATED ALWAYS AS IDENTITY,
    persona_id        uuid,
    at                timestamptz NOT NULL DEFAULT now(),
    deployment        text NOT NULL DEFAULT '',
    status            text NOT NULL,
    http_status       integer NOT NULL DEFAULT 0,
    latency_ms        integer NOT NULL DEFAULT 0,
    prompt_tokens     integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, id)
);
CREATE INDEX enrichment_log_at ON enrichment_log (at);

-- +goose Down
DROP TABLE enrichment_log, business_context, training_runs, visitor_personas, model_members,
    persona_history, personas, persona_models;
