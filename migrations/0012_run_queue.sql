-- The run queue (issue 11). Postgres is the queue: a submitted run is a `queued` row in
-- `runs`, and workers claim the next one with FOR UPDATE SKIP LOCKED (highest priority
-- first, then oldest), taking its lease as `runtime run` does (0006).

ALTER TABLE runs
    -- Which root the trace row will carry (HASH_CHAIN | MERKLE_TREE), chosen at submission;
    -- NULL on rows from before the queue: HASH_CHAIN.
    ADD COLUMN integrity_model     text
        CHECK (integrity_model IS NULL OR integrity_model IN ('HASH_CHAIN', 'MERKLE_TREE')),
    -- Set by a cancel of a running run; its executor sees it at its next lease renewal,
    -- stops the run, records why and seals the trace.
    ADD COLUMN cancel_requested_at timestamptz,
    ADD CONSTRAINT runs_attempts_within_max
        CHECK (max_attempts BETWEEN 1 AND 10 AND attempts BETWEEN 0 AND max_attempts);

-- What a claim reads: the queued runs, in claim order.
CREATE INDEX runs_queue_idx ON runs (priority DESC, created_at, id) WHERE status = 'queued';
-- A new attempt points at the run it replaces.
CREATE INDEX runs_parent_idx ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

-- Every queued run wakes the workers that LISTEN (those behind a transaction-mode pooler
-- cannot, and poll instead). Postgres folds identical notifications of one transaction
-- into one, so a batch of submissions is one wake-up.
CREATE FUNCTION runs_notify_queued() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('runproof_runs_queued', '');
    RETURN NULL;
END $$;

CREATE TRIGGER trg_runs_notify_queued
    AFTER INSERT ON runs
    FOR EACH ROW WHEN (NEW.status = 'queued')
    EXECUTE FUNCTION runs_notify_queued();
