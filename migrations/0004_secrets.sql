-- Tenant secrets (issue 4). Values are encrypted by the runtime (ChaCha20-Poly1305, key in
-- RUNPROOF_HOME/keys/secrets.key, never in the database; AAD = tenant ‖ name, so a
-- ciphertext copied to another tenant or name does not decrypt). The database only ever
-- holds ciphertext.

CREATE TABLE tenant_secrets (
    tenant_id     text NOT NULL CHECK (length(tenant_id) > 0),
    name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
    ciphertext    bytea NOT NULL,
    nonce         bytea NOT NULL CHECK (length(nonce) = 12),
    -- Where the value may be sent: scheme://host[:port] patterns, as agents.allowed_hosts.
    allowed_hosts text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

-- Secret names an agent's skills may use (the effective set is also limited by what the
-- skill declares and what exists for the run's tenant). Empty = none.
ALTER TABLE agents ADD COLUMN allowed_secrets text[] NOT NULL DEFAULT '{}';
