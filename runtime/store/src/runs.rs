use crate::{LeaseHolder, Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A `runs` row. JSON names follow the seed plans (`run_id`, `status`, ...).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Run {
    #[serde(rename = "run_id")]
    pub id: String,
    pub agent_id: String,
    pub tenant_id: String,
    pub origin_system_id: String,
    pub goal: String,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub error_message: Option<String>,
    pub plan_json: Option<String>,
    pub idempotency_key: Option<String>,
    pub parent_run_id: Option<String>,
    pub priority: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// Who executes (or last executed) the run, and its last renewal; see `leases.rs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_expires_at: Option<DateTime<Utc>>,
}

const RUN_COLUMNS: &str =
    "id, agent_id, tenant_id, origin_system_id, goal, status, attempts, max_attempts,
    error_message, plan_json, idempotency_key, parent_run_id, priority, created_at, started_at,
    completed_at, duration_ms, lease_owner, heartbeat_at, lease_expires_at";

#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: String,
    pub agent_id: String,
    pub tenant_id: String,
    pub origin_system_id: String,
    pub goal: String,
    /// Stored before execution starts, so a crashed run still shows what it meant to do.
    pub plan_json: String,
    pub idempotency_key: Option<String>,
}

/// How a run ended, with the head to seal its trace with.
#[derive(Debug, Clone)]
pub struct RunFinish<'a> {
    pub run_id: &'a str,
    pub trace_id: &'a str,
    pub succeeded: bool,
    pub error_message: Option<&'a str>,
    pub chain_length: i64,
    /// The root the trace's integrity model names (chain head, or Merkle root).
    pub root_hash: &'a [u8],
    pub merkle_root: &'a [u8],
    /// The DSSE envelope over the head, and the id of the key that signed it.
    pub signed_head: &'a str,
    pub signing_key_id: &'a str,
    /// The times and duration the signed head states, written as stated so the rows and
    /// the claims agree (whole microseconds; see `whole_micros`): the run's and the trace's
    /// `completed_at`, the trace's `sealed_at`, the run's `duration_ms`.
    pub completed_at: DateTime<Utc>,
    pub sealed_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// Who holds the run: the seal commits only while the lease is still theirs.
    pub lease_owner: &'a str,
}

impl Store {
    /// Creates a run and starts it (`running` under `lease`, its trace open) in one
    /// transaction, for a run executed at once (`runtime run`): the row is never visible
    /// as `queued`, so a worker on the same database cannot claim it in between (it did:
    /// the direct run then failed with "is not queued" while the worker ran it).
    pub async fn create_started_run(
        &self,
        r: &NewRun,
        trace_id: &str,
        integrity_model: &str,
        lease: &LeaseHolder,
    ) -> Result<(Run, DateTime<Utc>), StoreError> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "INSERT INTO runs (id, agent_id, tenant_id, origin_system_id, goal, plan_json, idempotency_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {RUN_COLUMNS}"
        );
        let run = sqlx::query_as::<_, Run>(sqlx::AssertSqlSafe(sql))
            .bind(&r.id)
            .bind(&r.agent_id)
            .bind(&r.tenant_id)
            .bind(&r.origin_system_id)
            .bind(&r.goal)
            .bind(&r.plan_json)
            .bind(&r.idempotency_key)
            .fetch_one(&mut *tx)
            .await?;
        let started_at = Self::start_in(&mut tx, &run, trace_id, integrity_model, lease).await?;
        tx.commit().await?;
        Ok((run, started_at))
    }

    async fn start_in(
        tx: &mut crate::db::Tx,
        run: &Run,
        trace_id: &str,
        integrity_model: &str,
        lease: &LeaseHolder,
    ) -> Result<DateTime<Utc>, StoreError> {
        let moved = sqlx::query(
            "UPDATE runs SET status = 'running', started_at = now(), attempts = attempts + 1,
                    lease_owner = $2, heartbeat_at = now(),
                    lease_expires_at = now() + make_interval(secs => $3::double precision / 1000)
             WHERE id = $1 AND status = 'queued'",
        )
        .bind(&run.id)
        .bind(&lease.owner)
        .bind(lease.ttl_ms())
        .execute(&mut **tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Err(StoreError::Rejected(format!(
                "run {} is not queued",
                run.id
            )));
        }
        let started_at: DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO aos_traces (trace_id, run_id, tenant_id, agent_id, integrity_model)
             VALUES ($1, $2, $3, $4, $5) RETURNING started_at",
        )
        .bind(trace_id)
        .bind(&run.id)
        .bind(&run.tenant_id)
        .bind(&run.agent_id)
        .bind(integrity_model)
        .fetch_one(&mut **tx)
        .await?;
        Ok(started_at)
    }

    /// Seals the trace and finishes the run, in one transaction: a reader never sees a
    /// finished run with an unsealed trace. Call only after every step is durable. Refused
    /// (nothing sealed) when the run's lease is no longer `lease_owner`'s: it was recovered
    /// as lost, and its failed status stands.
    pub async fn finish_run(&self, f: &RunFinish<'_>) -> Result<(), StoreError> {
        let status = runproof_proof::RunStatus::ended(f.succeeded).as_str();
        let mut tx = self.pool.begin().await?;
        let sealed = sqlx::query(
            "UPDATE aos_traces SET status = $2, completed_at = $6, chain_length = $3, root_hash = $4, sealed_at = $10,
                    merkle_root = $7, signed_head = $8, signing_key_id = $9
             WHERE trace_id = $1 AND run_id = $5 AND sealed_at IS NULL",
        )
        .bind(f.trace_id)
        .bind(status)
        .bind(f.chain_length)
        .bind(f.root_hash)
        .bind(f.run_id)
        .bind(f.completed_at)
        .bind(f.merkle_root)
        .bind(f.signed_head)
        .bind(f.signing_key_id)
        .bind(f.sealed_at)
        .execute(&mut *tx)
        .await?;
        if sealed.rows_affected() != 1 {
            return Err(StoreError::Rejected(format!(
                "trace {} is not open for sealing",
                f.trace_id
            )));
        }
        let finished = sqlx::query(
            "UPDATE runs SET status = $2, error_message = $3, completed_at = $5, duration_ms = $6,
                 lease_expires_at = NULL
             WHERE id = $1 AND status = 'running' AND lease_owner = $4",
        )
        .bind(f.run_id)
        .bind(status)
        .bind(f.error_message)
        .bind(f.lease_owner)
        .bind(f.completed_at)
        .bind(f.duration_ms)
        .execute(&mut *tx)
        .await?;
        if finished.rows_affected() != 1 {
            // Rolled back with the seal: the trace stays unsealed, as the recovery said.
            return Err(StoreError::Rejected(format!(
                "run {} is no longer held by this process (its lease expired and it was recovered as lost); the trace is left unsealed",
                f.run_id
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks a run failed without sealing its trace (its steps could not all be stored).
    /// The trace stays unsealed, so its proof can never be `VERIFIED`.
    pub async fn abandon_run(&self, run_id: &str, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE runs SET status = 'failed', error_message = $2, completed_at = now(),
                 duration_ms = (EXTRACT(EPOCH FROM (now() - started_at)) * 1000)::bigint,
                 lease_expires_at = NULL
             WHERE id = $1 AND status = 'running'",
        )
        .bind(run_id)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The run if it belongs to `tenant`; another tenant's run is "not found".
    pub async fn run_for_tenant(
        &self,
        tenant: &str,
        run_id: &str,
    ) -> Result<Option<Run>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1 AND tenant_id = $2");
        Ok(sqlx::query_as::<_, Run>(sqlx::AssertSqlSafe(sql))
            .bind(run_id)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A tenant's most recent runs.
    pub async fn list_runs(&self, tenant: &str, limit: i64) -> Result<Vec<Run>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT $2"
        );
        Ok(sqlx::query_as::<_, Run>(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }
}
