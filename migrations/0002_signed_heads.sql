-- Signed trace heads (issue 3). The runner signs each sealed head with its Ed25519 key; the
-- private key never enters the database. Public keys are kept by key id so old proofs stay
-- checkable after a rotation, but a verifier trusts only keys the reviewer pins, never a key
-- because it is listed here.

CREATE TABLE signing_keys (
    -- Lower-case hex SHA-256 of the raw 32-byte public key (runproof_proof::seal::key_id).
    key_id         text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{64}$'),
    algorithm      text NOT NULL DEFAULT 'ed25519' CHECK (algorithm = 'ed25519'),
    -- SPKI "BEGIN PUBLIC KEY" PEM.
    public_key_pem text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE aos_traces
    -- The DSSE envelope (JSON text, exactly as signed and carried) over the sealed head.
    ADD COLUMN signed_head    text,
    ADD COLUMN signing_key_id text REFERENCES signing_keys (key_id),
    -- RFC 6962 root over the steps (also inside the signed head), for inclusion proofs.
    ADD COLUMN merkle_root    bytea,
    ADD CONSTRAINT aos_traces_signed_only_when_sealed
        CHECK (signed_head IS NULL OR sealed_at IS NOT NULL),
    ADD CONSTRAINT aos_traces_integrity_model_known
        CHECK (integrity_model IN ('HASH_CHAIN', 'MERKLE_TREE'));
