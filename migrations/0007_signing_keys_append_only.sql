-- signing_keys is append-only (issue 9). A row only *lists* a public key so proofs sealed
-- before a rotation can name theirs; no verifier trusts a key because it is listed, and
-- every key id is recomputed from the key bytes on read. Still, a listed key must never be
-- swapped or removed by an ordinary connection: UPDATE, DELETE and TRUNCATE are refused.
-- (A superuser can disable triggers; the read side, not this, is what keeps that from
-- mattering: `keys export-public` only exports key files the runtime holds.)

CREATE FUNCTION signing_keys_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'signing_keys is append-only (% rejected): a listed key is never replaced or removed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER trg_signing_keys_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION signing_keys_refuse_change();
