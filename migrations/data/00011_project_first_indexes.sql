-- +goose NO TRANSACTION
-- +goose Up
-- The path past one PostgreSQL: every index of per-project data leads with project_id, so that
-- a distributed PostgreSQL (Citus) can shard by project and each shard keeps whole indexes of
-- its own projects. The four retention indexes led with a time; the sweep now runs project by
-- project (one index range per project, as it would on a shard), so they lead with project_id
-- and keep their time second. last_day still changes at most once a day: visitor_features'
-- updates stay HOT. Built concurrently: collect and classify keep running during the upgrade;
-- every step is idempotent, so an interrupted run is simply run again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS visitor_features_project_last_day ON visitor_features (project_id, last_day);
DROP INDEX CONCURRENTLY IF EXISTS visitor_features_last_day;
CREATE INDEX CONCURRENTLY IF NOT EXISTS visitor_personas_project_assigned ON visitor_personas (project_id, assigned_at);
DROP INDEX CONCURRENTLY IF EXISTS visitor_personas_assigned;
CREATE INDEX CONCURRENTLY IF NOT EXISTS enrichment_log_project_at ON enrichment_log (project_id, at);
DROP INDEX CONCURRENTLY IF EXISTS enrichment_log_at;
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_log_project_at ON audit_log (project_id, at);
DROP INDEX CONCURRENTLY IF EXISTS audit_log_at;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_log_at ON audit_log (at);
DROP INDEX CONCURRENTLY IF EXISTS audit_log_project_at;
CREATE INDEX CONCURRENTLY IF NOT EXISTS enrichment_log_at ON enrichment_log (at);
DROP INDEX CONCURRENTLY IF EXISTS enrichment_log_project_at;
CREATE INDEX CONCURRENTLY IF NOT EXISTS visitor_personas_assigned ON visitor_personas (assigned_at);
DROP INDEX CONCURRENTLY IF EXISTS visitor_personas_project_assigned;
CREATE INDEX CONCURRENTLY IF NOT EXISTS visitor_features_last_day ON visitor_features (last_day);
DROP INDEX CONCURRENTLY IF EXISTS visitor_features_project_last_day;
