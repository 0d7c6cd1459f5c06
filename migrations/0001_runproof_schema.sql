-- RunProof schema. Table and column names follow the original system so the seed plans'
-- SQL runs verbatim (runs, agents, aos_traces, aos_trace_steps).

CREATE TABLE agents (
    id            text PRIMARY KEY,
    -- NULL: usable by any tenant; otherwise only by this tenant.
    tenant_id     text,
    name          text NOT NULL CHECK (length(name) > 0),
    -- Outbound HTTP grant: scheme://host:port patterns. Empty = deny everything.
    allowed_hosts text[] NOT NULL DEFAULT '{}',
    -- The agent's own plan (plan JSON text), used when a run names no plan file.
    plan_json     text,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Skill components that ran or were added, content-addressed by SHA-256 of the bytes.
CREATE TABLE skills (
    digest       text PRIMARY KEY CHECK (digest ~ '^[0-9a-f]{64}$'),
    name         text NOT NULL,
    version      text NOT NULL,
    description  text NOT NULL,
    capabilities jsonb NOT NULL DEFAULT '{}',
    builtin      boolean NOT NULL,
    size_bytes   bigint NOT NULL,
    -- Component bytes for added (non built-in) skills; built-ins live in the binary.
    component    bytea,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX skills_name_idx ON skills (name);

CREATE TABLE runs (
    id               text PRIMARY KEY,
    agent_id         text NOT NULL REFERENCES agents (id),
    tenant_id        text NOT NULL,
    -- Fix A of the seed plan: required, no default; the trigger below rejects the legacy value.
    origin_system_id text NOT NULL,
    goal             text NOT NULL,
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 1,
    error_message    text,
    plan_json        text,
    idempotency_key  text,
    parent_run_id    text REFERENCES runs (id),
    priority         integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    completed_at     timestamptz,
    duration_ms      bigint
);
CREATE INDEX runs_tenant_idx ON runs (tenant_id, created_at DESC);
CREATE UNIQUE INDEX runs_idempotency_idx ON runs (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE FUNCTION runs_reject_legacy_origin() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.origin_system_id = 'legacy-migration' THEN
        RAISE EXCEPTION 'runs.origin_system_id ''legacy-migration'' is reserved for migrated rows; new runs must name their origin system'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER trg_runs_origin_system_not_legacy
    BEFORE INSERT ON runs
    FOR EACH ROW EXECUTE FUNCTION runs_reject_legacy_origin();

CREATE TABLE aos_traces (
    trace_id        text PRIMARY KEY,
    run_id          text NOT NULL REFERENCES runs (id),
    tenant_id       text NOT NULL,
    agent_id        text NOT NULL,
    -- running until sealed; then the run's final status (succeeded | failed).
    status          text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'succeeded', 'failed')),
    integrity_model text NOT NULL DEFAULT 'HASH_CHAIN',
    started_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    -- The sealed head: set once, together, when the run ends.
    chain_length    bigint,
    root_hash       bytea,
    sealed_at       timestamptz,
    CHECK ((chain_length IS NULL) = (root_hash IS NULL) AND (root_hash IS NULL) = (sealed_at IS NULL))
);
CREATE INDEX aos_traces_run_idx ON aos_traces (run_id);

-- A sealed trace never changes again.
CREATE FUNCTION aos_traces_seal_once() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'aos_traces rows are never deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.sealed_at IS NOT NULL THEN
        RAISE EXCEPTION 'trace % is sealed and cannot change', OLD.trace_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER trg_aos_traces_seal_once
    BEFORE UPDATE OR DELETE ON aos_traces
    FOR EACH ROW EXECUTE FUNCTION aos_traces_seal_once();

CREATE TABLE aos_trace_steps (
    id          bigserial PRIMARY KEY,
    trace_id    text NOT NULL REFERENCES aos_traces (trace_id),
    run_id      text NOT NULL,
    tenant_id   text NOT NULL,
    step_index  bigint NOT NULL CHECK (step_index >= 0),
    kind        text NOT NULL,
    skill_name  text,
    status      text NOT NULL CHECK (status IN ('success', 'failure', 'retry', 'skipped')),
    duration_ms bigint,
    cost_cents  integer NOT NULL DEFAULT 0,
    -- The exact bytes that were hashed (never jsonb: it reorders keys and rewrites numbers).
    payload     bytea NOT NULL,
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (trace_id, step_index)
);
CREATE INDEX aos_trace_steps_run_idx ON aos_trace_steps (run_id);

-- Steps are append-only, and nothing is appended to a sealed trace.
CREATE FUNCTION aos_trace_steps_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM aos_traces t WHERE t.trace_id = NEW.trace_id AND t.sealed_at IS NOT NULL) THEN
            RAISE EXCEPTION 'trace % is sealed; no step can be added', NEW.trace_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'aos_trace_steps is append-only (% rejected)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER trg_aos_trace_steps_append_only
    BEFORE INSERT OR UPDATE OR DELETE ON aos_trace_steps
    FOR EACH ROW EXECUTE FUNCTION aos_trace_steps_append_only();
