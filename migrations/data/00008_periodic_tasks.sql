-- +goose Up
-- The outcome of each periodic task (retention sweep, training safety net), whichever worker ran
-- it: the API's /metrics and the dashboard's health page read it here, because the API and the
-- worker may be separate processes. One row per task type; no tenant data.
CREATE TABLE periodic_tasks (
    task                   text PRIMARY KEY,
    last_started_at        timestamptz NOT NULL,
    last_success_at        timestamptz,
    last_failure_at        timestamptz,
    failing_since          timestamptz,          -- first failure since the last success
    failures_since_success integer NOT NULL DEFAULT 0,
    successes_total        bigint NOT NULL DEFAULT 0,
    failures_total         bigint NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE periodic_tasks;
