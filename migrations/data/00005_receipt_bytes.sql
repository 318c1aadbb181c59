-- +goose Up
-- A receipt is verified against the exact bytes that were signed. jsonb re-orders keys and
-- re-spaces the text, so a receipt read back from it never matched its signature; json keeps
-- the text as written.
ALTER TABLE deletion_requests ALTER COLUMN receipt TYPE json USING receipt::json;

-- +goose Down
ALTER TABLE deletion_requests ALTER COLUMN receipt TYPE jsonb USING receipt::jsonb;
