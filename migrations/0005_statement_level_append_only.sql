-- The append-only rule of aos_trace_steps as statement-level triggers (same rule, cheaper).
-- 0001 checked it FOR EACH ROW: one plpgsql call and one aos_traces lookup per inserted
-- step, which dominated the cost of a 4 096-row batch. Now an INSERT statement checks its
-- whole batch once, through a transition table, and UPDATE, DELETE and TRUNCATE are refused
-- per statement (TRUNCATE was not covered by the row trigger at all).

DROP TRIGGER trg_aos_trace_steps_append_only ON aos_trace_steps;
DROP FUNCTION aos_trace_steps_append_only();

CREATE FUNCTION aos_trace_steps_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'aos_trace_steps is append-only (% rejected)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER trg_aos_trace_steps_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON aos_trace_steps
    FOR EACH STATEMENT EXECUTE FUNCTION aos_trace_steps_refuse_change();

-- AFTER ... FOR EACH STATEMENT: raising here aborts the statement, so no row of a batch
-- lands in a sealed trace.
CREATE FUNCTION aos_trace_steps_not_into_sealed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    sealed_trace text;
BEGIN
    SELECT t.trace_id INTO sealed_trace
    FROM aos_traces t
    WHERE t.sealed_at IS NOT NULL
      AND t.trace_id IN (SELECT DISTINCT n.trace_id FROM new_steps n)
    LIMIT 1;
    IF sealed_trace IS NOT NULL THEN
        RAISE EXCEPTION 'trace % is sealed; no step can be added', sealed_trace
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER trg_aos_trace_steps_not_into_sealed
    AFTER INSERT ON aos_trace_steps
    REFERENCING NEW TABLE AS new_steps
    FOR EACH STATEMENT EXECUTE FUNCTION aos_trace_steps_not_into_sealed();
