-- Leases: a running run is held by the process executing it (a `runtime run`, later a
-- worker), which renews the lease while it works. A run whose lease has expired has lost
-- its runner (kill -9, a crashed machine, a database cut off for longer than the lease):
-- `Store::recover_lost_runs` marks it failed, so no run stays `running` forever. Its trace
-- stays unsealed and never verifies.
ALTER TABLE runs
    ADD COLUMN lease_owner      text,
    ADD COLUMN heartbeat_at     timestamptz,
    ADD COLUMN lease_expires_at timestamptz;

-- What recovery scans: only running runs, by expiry.
CREATE INDEX runs_lease_expiry_idx ON runs (lease_expires_at) WHERE status = 'running';
