-- Scratch quotas per agent (issue 10). NULL: the runtime default (README "Policy: limits
-- and the WASI sandbox"); the effective quota is the smaller of this grant and the ceiling.
-- Bytes written and entries created count per run; open descriptors per invocation.
ALTER TABLE agents
    ADD COLUMN scratch_max_bytes      bigint CHECK (scratch_max_bytes > 0),
    ADD COLUMN scratch_max_files      bigint CHECK (scratch_max_files > 0),
    ADD COLUMN scratch_max_open_files bigint CHECK (scratch_max_open_files > 0);
