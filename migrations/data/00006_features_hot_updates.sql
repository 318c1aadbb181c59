-- +goose Up
-- Every collect rewrites its visitor's aggregates. The index on last_seen, which each of those
-- updates changes, made every update a non-HOT one: a new entry in both indexes per update.
-- Retention finds expired visitors by their last UTC day instead (last_day is the UTC day of
-- last_seen and changes at most once a day), and the pages keep room for in-place updates.
DROP INDEX visitor_features_last_seen;
CREATE INDEX visitor_features_last_day ON visitor_features (last_day);
ALTER TABLE visitor_features SET (fillfactor = 80);

-- +goose Down
ALTER TABLE visitor_features RESET (fillfactor);
DROP INDEX visitor_features_last_day;
CREATE INDEX visitor_features_last_seen ON visitor_features (last_seen);
