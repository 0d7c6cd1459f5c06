-- Resource grants per agent (issue 4). NULL: the runtime default (see README "Policy:
-- limits and the WASI sandbox"); the effective limit of an invocation is the smallest of
-- the skill's own request, this grant and the runtime's ceiling.
ALTER TABLE agents
    ADD COLUMN max_memory_bytes bigint CHECK (max_memory_bytes > 0),
    ADD COLUMN timeout_ms       bigint CHECK (timeout_ms > 0),
    -- NULL: fuel metering off for this agent's runs (the deadline still holds).
    ADD COLUMN fuel             bigint CHECK (fuel > 0),
    ADD COLUMN max_host_calls   bigint CHECK (max_host_calls > 0),
    -- A per-run scratch directory preopened as /scratch; off: no filesystem at all.
    ADD COLUMN scratch_dir      boolean NOT NULL DEFAULT false;
