-- Bearer tokens of the HTTP API (issue 11). A token names one tenant; the API takes the
-- tenant from the token, never from the request. Only a SHA-256 of the token is stored
-- (tokens are 256 random bits, so a slow hash adds nothing); the token itself is shown
-- once, by `runtime token create`.
CREATE TABLE api_tokens (
    id           text PRIMARY KEY,
    tenant_id    text NOT NULL CHECK (length(tenant_id) > 0),
    name         text NOT NULL DEFAULT '',
    token_sha256 bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    -- Set once; a revoked token never authenticates again.
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_tenant_idx ON api_tokens (tenant_id, created_at);
