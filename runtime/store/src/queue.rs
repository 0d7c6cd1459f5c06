//! The run queue: submitted runs wait in `runs` as `queued`; workers claim them.
//!
//! - **Submit** inserts a queued run with its plan (checked by the caller before, so nothing
//!   is written for a refused request). With an idempotency key, a second submission of
//!   the same key by the same tenant returns the first run and writes nothing: the unique
//!   index `runs_idempotency_idx` decides, so two racing submissions cannot both insert.
//! - **Claim** is `start_run` for a run the caller has not seen yet: the next queued run
//!   (highest `priority`, then oldest) is locked with `FOR UPDATE SKIP LOCKED` (so any
//!   number of workers claim without waiting on each other, and never the same run), moved
//!   to `running` under the claimer's lease and given its trace, in one transaction.
//! - **Cancel** fails a queued run at once (it never starts), or asks the executor of a
//!   running one to stop (`cancel_requested_at`, seen at its next lease renewal).

use crate::{LeaseHolder, Run, Store, StoreError};
use chrono::{DateTime, Utc};
use runproof_proof::RunStatus;
use serde::Serialize;

/// What to queue. The plan is the checked, planned plan JSON.
#[derive(Debug, Clone)]
pub struct Submission {
    pub id: String,
    pub agent_id: String,
    pub tenant_id: String,
    pub origin_system_id: String,
    pub goal: String,
    pub plan_json: String,
    pub idempotency_key: Option<String>,
    pub priority: i32,
    /// From the plan: more than 1 lets a run lost with its worker be attempted again.
    pub max_attempts: i32,
    pub integrity_model: String,
}

/// The run a submission names, and whether this submission created it.
#[derive(Debug, Clone, Serialize)]
pub struct Submitted {
    pub run: Run,
    /// `false`: the idempotency key was used before; `run` is that earlier run, unchanged.
    pub created: bool,
}

/// A run a worker claimed: now `running` under its lease, with its trace open.
#[derive(Debug, Clone)]
pub struct ClaimedRun {
    pub run: Run,
    pub trace_id: String,
    pub integrity_model: String,
    /// The trace's `started_at` (the signed head repeats it).
    pub trace_started_at: DateTime<Utc>,
}

/// What a cancel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelOutcome {
    /// It was queued: now failed, and it never ran.
    Cancelled,
    /// It is running: its executor is asked to stop and will seal it as failed.
    Requested,
    /// It had already ended; nothing changed.
    AlreadyEnded,
}

const RUN_COLUMNS: &str =
    "id, agent_id, tenant_id, origin_system_id, goal, status, attempts, max_attempts,
    error_message, plan_json, idempotency_key, parent_run_id, priority, created_at, started_at,
    completed_at, duration_ms, lease_owner, heartbeat_at, lease_expires_at";

#[derive(sqlx::FromRow)]
struct ClaimRow {
    #[sqlx(flatten)]
    run: Run,
    integrity_model: String,
    trace_started_at: DateTime<Utc>,
}

impl Store {
    /// Queues a run, or returns the tenant's earlier run with the same idempotency key.
    pub async fn submit_run(&self, s: &Submission) -> Result<Submitted, StoreError> {
        let sql = format!(
            "INSERT INTO runs (id, agent_id, tenant_id, origin_system_id, goal, plan_json, idempotency_key,
                               priority, max_attempts, integrity_model)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
             RETURNING {RUN_COLUMNS}"
        );
        let inserted = sqlx::query_as::<_, Run>(sqlx::AssertSqlSafe(sql))
            .bind(&s.id)
            .bind(&s.agent_id)
            .bind(&s.tenant_id)
            .bind(&s.origin_system_id)
            .bind(&s.goal)
            .bind(&s.plan_json)
            .bind(&s.idempotency_key)
            .bind(s.priority)
            .bind(s.max_attempts)
            .bind(&s.integrity_model)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(run) = inserted {
            return Ok(Submitted { run, created: true });
        }
        let key = s.idempotency_key.as_deref().unwrap_or_default();
        match self.run_by_idempotency_key(&s.tenant_id, key).await? {
            Some(run) => Ok(Submitted {
                run,
                created: false,
            }),
            // Only a conflict on the key skips the insert, and runs are never deleted.
            None => Err(StoreError::Rejected(format!(
                "run with idempotency key {key:?} was neither inserted nor found"
            ))),
        }
    }

    /// The tenant's run submitted with `key`, if any.
    pub async fn run_by_idempotency_key(
        &self,
        tenant: &str,
        key: &str,
    ) -> Result<Option<Run>, StoreError> {
        let sql =
            format!("SELECT {RUN_COLUMNS} FROM runs WHERE tenant_id = $1 AND idempotency_key = $2");
        Ok(sqlx::query_as::<_, Run>(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Claims the next queued run for `lease` (see the module comment); `None` when the
    /// queue is empty (or every queued run is being claimed by someone else right now).
    pub async fn claim_next_run(
        &self,
        trace_id: &str,
        lease: &LeaseHolder,
    ) -> Result<Option<ClaimedRun>, StoreError> {
        // The same move as `start_run` (status, start time, attempt, lease), for the first
        // unlocked queued run, and its trace row, in one statement (one transaction).
        let sql = format!(
            "WITH next AS (
                 SELECT id FROM runs WHERE status = 'queued'
                 ORDER BY priority DESC, created_at, id
                 LIMIT 1
                 FOR UPDATE SKIP LOCKED
             ),
             claimed AS (
                 UPDATE runs r SET status = 'running', started_at = now(), attempts = r.attempts + 1,
                        lease_owner = $1, heartbeat_at = now(),
                        lease_expires_at = now() + make_interval(secs => $2::double precision / 1000)
                 FROM next WHERE r.id = next.id
                 RETURNING r.*
             ),
             trace AS (
                 INSERT INTO aos_traces (trace_id, run_id, tenant_id, agent_id, integrity_model)
                 SELECT $3, c.id, c.tenant_id, c.agent_id, COALESCE(c.integrity_model, 'HASH_CHAIN')
                 FROM claimed c
                 RETURNING integrity_model, started_at
             )
             SELECT {cols}, trace.integrity_model, trace.started_at AS trace_started_at
             FROM claimed c, trace",
            cols = RUN_COLUMNS
                .split(',')
                .map(|c| format!("c.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let row = sqlx::query_as::<_, ClaimRow>(sqlx::AssertSqlSafe(sql))
            .bind(&lease.owner)
            .bind(lease.ttl_ms())
            .bind(trace_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| ClaimedRun {
            run: r.run,
            trace_id: trace_id.to_string(),
            integrity_model: r.integrity_model,
            trace_started_at: r.trace_started_at,
        }))
    }

    /// Cancels the tenant's run (see [`CancelOutcome`]). `None`: no such run for this
    /// tenant (another tenant's run is "not found" too).
    pub async fn cancel_run(
        &self,
        tenant: &str,
        run_id: &str,
        reason: &str,
    ) -> Result<Option<CancelOutcome>, StoreError> {
        // The row is locked first, so the CASEs and the answer read its latest status.
        let status: Option<String> = sqlx::query_scalar(
            "WITH before AS (
                 SELECT id, status FROM runs WHERE id = $1 AND tenant_id = $2 FOR UPDATE
             )
             UPDATE runs r SET
                 status = CASE WHEN b.status = 'queued' THEN 'failed' ELSE r.status END,
                 error_message = CASE WHEN b.status = 'queued' THEN $3 ELSE r.error_message END,
                 completed_at = CASE WHEN b.status = 'queued' THEN now() ELSE r.completed_at END,
                 cancel_requested_at = CASE WHEN b.status IN ('queued', 'running')
                                            THEN COALESCE(r.cancel_requested_at, now())
                                            ELSE r.cancel_requested_at END
             FROM before b WHERE r.id = b.id
             RETURNING b.status",
        )
        .bind(run_id)
        .bind(tenant)
        .bind(reason)
        .fetch_optional(&self.pool)
        .await?;
        Ok(status.map(|before| match RunStatus::parse(&before) {
            Some(RunStatus::Queued) => CancelOutcome::Cancelled,
            Some(RunStatus::Running) => CancelOutcome::Requested,
            _ => CancelOutcome::AlreadyEnded,
        }))
    }

    /// The newer attempt queued in place of `run_id` when it was lost, if any.
    pub async fn next_attempt(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM runs WHERE parent_run_id = $1 ORDER BY created_at LIMIT 1",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// How many runs wait in the queue.
    pub async fn queued_count(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM runs WHERE status = 'queued'")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

impl Store {
    /// One round trip to the database (health checks).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
