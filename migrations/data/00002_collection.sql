-- +goose Up
-- One row per collected event, partitioned by day (partitions are created ahead by the ingester
-- and the retention sweep; old ones are dropped whole). No IP, no user agent, no raw visitor id.
CREATE TABLE events (
    project_id   uuid NOT NULL,
    ts           timestamptz NOT NULL,
    visitor_hash bytea NOT NULL,       -- HMAC(index key, project id || visitor id)
    session_hash bytea NOT NULL,
    type         text NOT NULL CHECK (type IN ('pageview', 'click', 'leave', 'goal')),
    path         text NOT NULL DEFAULT '',
    path_group   text NOT NULL DEFAULT '',
    channel      text NOT NULL DEFAULT '',
    device       text NOT NULL DEFAULT '',
    el_tag       text NOT NULL DEFAULT '',
    el_category  text NOT NULL DEFAULT '',
    el_classes   text[] NOT NULL DEFAULT '{}',
    el_text_enc  bytea,                -- sealed with the project data key, AD events/el_text/project
    el_attrs_enc bytea,                -- idem, JSON object of allow-listed attributes
    goal         text NOT NULL DEFAULT '',
    duration_ms  integer,
    scroll_depth real,
    utm          jsonb,                -- utm_* and allow-listed query keys of page views
    received_at  timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (ts);
CREATE INDEX events_visitor ON events (project_id, visitor_hash, ts);
CREATE INDEX events_project_ts ON events (project_id, ts);

-- Running aggregates per visitor, upserted in the ingest transaction.
CREATE TABLE visitor_features (
    project_id    uuid NOT NULL,
    visitor_hash  bytea NOT NULL,
    visits        bigint NOT NULL DEFAULT 0,
    pageviews     bigint NOT NULL DEFAULT 0,
    clicks        bigint NOT NULL DEFAULT 0,
    goals         bigint NOT NULL DEFAULT 0,
    bounces       bigint NOT NULL DEFAULT 0,   -- finished visits with one page view and no click
    time_ms       bigint NOT NULL DEFAULT 0,
    scroll_sum    double precision NOT NULL DEFAULT 0,
    scroll_count  bigint NOT NULL DEFAULT 0,
    active_days   bigint NOT NULL DEFAULT 0,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    last_day      date NOT NULL,
    cur_session   bytea NOT NULL,              -- the visit in progress, to count visits and bounces
    cur_pageviews bigint NOT NULL DEFAULT 0,
    cur_clicks    bigint NOT NULL DEFAULT 0,
    paths         jsonb NOT NULL DEFAULT '{}', -- path group -> page views
    elements      jsonb NOT NULL DEFAULT '{}', -- element category -> clicks
    channels      jsonb NOT NULL DEFAULT '{}', -- channel -> visits
    devices       jsonb NOT NULL DEFAULT '{}', -- device class -> visits
    goal_names    jsonb NOT NULL DEFAULT '{}', -- goal -> count
    hours         bigint[] NOT NULL DEFAULT array_fill(0::bigint, ARRAY[24]),
    weekdays      bigint[] NOT NULL DEFAULT array_fill(0::bigint, ARRAY[7]),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, visitor_hash)
);
CREATE INDEX visitor_features_last_seen ON visitor_features (last_seen);

-- Delivery counters: every event offered, stored or dropped by reason, per project and day.
CREATE TABLE ingest_stats (
    project_id uuid NOT NULL,
    day        date NOT NULL,
    reason     text NOT NULL,   -- 'stored' or the drop reason
    events     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, day, reason)
);

-- +goose Down
DROP TABLE ingest_stats, visitor_features, events;
