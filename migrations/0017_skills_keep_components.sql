-- Components stay retrievable by digest, so any run can be replayed later (issue 14).
-- A `skills` row is a content-addressed component: it is never deleted, its identity never
-- changes, and its bytes, once stored, never change. The only update allowed is storing the
-- bytes of a row that had none (a built-in, whose bytes the runner keeps the first time a
-- run uses it: a newer binary no longer has an older one's built-ins).
--
-- Stored bytes must be the component their digest names. NOT VALID: rows written before
-- this migration were all written from the bytes they hash, and a migration must not brick
-- a database over one that was not; every new or changed row is checked.
ALTER TABLE skills
    ADD CONSTRAINT skills_component_matches_digest
    CHECK (component IS NULL OR encode(sha256(component), 'hex') = digest) NOT VALID;

CREATE FUNCTION skills_keep_components() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'skills rows are kept: component % stays retrievable by digest', OLD.digest
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.digest IS DISTINCT FROM OLD.digest
        OR NEW.name IS DISTINCT FROM OLD.name
        OR NEW.builtin IS DISTINCT FROM OLD.builtin
        OR NEW.size_bytes IS DISTINCT FROM OLD.size_bytes
        OR (OLD.component IS NOT NULL AND NEW.component IS DISTINCT FROM OLD.component) THEN
        RAISE EXCEPTION 'skills row % is content-addressed: only missing component bytes may be stored', OLD.digest
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER trg_skills_keep_components
    BEFORE UPDATE OR DELETE ON skills
    FOR EACH ROW EXECUTE FUNCTION skills_keep_components();

CREATE FUNCTION skills_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'skills rows are kept (TRUNCATE rejected)'
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER trg_skills_refuse_truncate
    BEFORE TRUNCATE ON skills
    FOR EACH STATEMENT EXECUTE FUNCTION skills_refuse_truncate();
