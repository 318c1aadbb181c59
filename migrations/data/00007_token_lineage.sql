-- +goose Up
-- A token minted with another token records its parent: authentication walks the chain, so a
-- revoked or expired ancestor ends every descendant at once (DESIGN.md: a token never outlives,
-- or outlasts the revocation of, a token that minted it). Tokens minted from a dashboard
-- session, the CLI or bootstrap are roots (no parent).
ALTER TABLE api_tokens ADD COLUMN parent_id uuid REFERENCES api_tokens (id) ON DELETE CASCADE;
CREATE INDEX api_tokens_parent ON api_tokens (parent_id) WHERE parent_id IS NOT NULL;

-- +goose Down
DROP INDEX api_tokens_parent;
ALTER TABLE api_tokens DROP COLUMN parent_id;
