use crate::binary_copy::BinaryCopy;
use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use futures_core::Stream;
use runproof_proof::{Digest, StepKind, StepStatus, StoredStep, TraceHead, TraceIds};
use serde::Serialize;
use std::sync::Arc;

/// An `aos_traces` row.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TraceRow {
    pub trace_id: String,
    pub run_id: String,
    pub tenant_id: String,
    pub agent_id: String,
    pub status: String,
    pub integrity_model: String,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub chain_length: Option<i64>,
    #[serde(skip)]
    pub root_hash: Option<Vec<u8>>,
    pub sealed_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub merkle_root: Option<Vec<u8>>,
    /// The DSSE envelope over the sealed head (JSON text).
    #[serde(skip)]
    pub signed_head: Option<String>,
    pub signing_key_id: Option<String>,
    /// Number of stored steps (not part of the row; counted when read).
    pub step_count: i64,
}

impl TraceRow {
    /// What the verifier compares the recomputed chain with: the row's ids, model, status,
    /// sealed head and signed head, as stored.
    pub fn trace_head(&self) -> TraceHead {
        TraceHead {
            ids: TraceIds {
                tenant_id: self.tenant_id.clone(),
                run_id: self.run_id.clone(),
                trace_id: self.trace_id.clone(),
            },
            integrity_model: self.integrity_model.clone(),
            status: self.status.clone(),
            chain_length: self.chain_length,
            root_hash: self.root_hash.clone(),
            signed_head: self.signed_head.clone(),
        }
    }
}

/// One step to append, already serialized and hashed by the recorder. The ids it belongs
/// to are the batch's (`append_steps`), bound once per batch, not carried per row.
#[derive(Debug, Clone)]
pub struct NewStep {
    pub step_index: u64,
    pub kind: StepKind,
    /// Shared: a run's host calls come from one skill at a time, so one allocation serves
    /// every step of it.
    pub skill_name: Option<Arc<str>>,
    pub status: StepStatus,
    pub duration_ms: Option<u64>,
    pub payload: Vec<u8>,
    pub prev_hash: Digest,
    pub hash: Digest,
}

/// Batches of at least this many steps are written with a binary COPY (four round trips,
/// then the cheapest per-row path Postgres has); smaller ones, most write-ahead batches
/// among them, with one INSERT (one round trip).
pub const COPY_FROM_ROWS: usize = 64;

/// A stored step as read (`cost_cents` is an `integer` column); every reader of steps
/// maps through it.
#[derive(sqlx::FromRow)]
pub(crate) struct StepDbRow {
    trace_id: String,
    run_id: String,
    tenant_id: String,
    step_index: i64,
    kind: String,
    skill_name: Option<String>,
    status: String,
    duration_ms: Option<i64>,
    cost_cents: i32,
    payload: Vec<u8>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl From<StepDbRow> for StoredStep {
    fn from(r: StepDbRow) -> Self {
        StoredStep {
            trace_id: r.trace_id,
            run_id: r.run_id,
            tenant_id: r.tenant_id,
            step_index: r.step_index,
            kind: r.kind,
            skill_name: r.skill_name,
            status: r.status,
            duration_ms: r.duration_ms,
            cost_cents: r.cost_cents.into(),
            payload: r.payload,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

impl Store {
    /// Appends a batch of steps in one round trip (`UNNEST` of column arrays). Committed
    /// asynchronously (see `Store::steps`) unless `durable`: then the commit waits until its
    /// WAL, and so every earlier batch's, is on disk (the write-ahead of a side effect).
    /// Otherwise only a synchronous commit afterwards (a durable batch, the seal) makes the
    /// steps durable. A durable batch must write rows: Postgres flushes the WAL at commit
    /// only for a transaction that wrote some.
    pub async fn append_steps(
        &self,
        ids: &TraceIds,
        steps: &[NewStep],
        durable: bool,
    ) -> Result<(), StoreError> {
        if steps.is_empty() {
            return Ok(());
        }
        // A write-ahead batch must be on disk when this returns: `on` whatever the server's
        // default, else the intent of a request could be lost by a database crash after the
        // request left (e2e_crash_evidence stops Postgres with `-m immediate` to check it).
        let synchronous_commit = if durable { "on" } else { "off" };
        let db = if durable { &self.pool } else { &self.steps };
        if steps.len() >= COPY_FROM_ROWS {
            return copy_steps(db, ids, steps, synchronous_commit).await;
        }
        let indexes: Vec<i64> = steps.iter().map(|s| s.step_index as i64).collect();
        let kinds: Vec<&str> = steps.iter().map(|s| s.kind.as_str()).collect();
        let skills: Vec<Option<&str>> = steps.iter().map(|s| s.skill_name.as_deref()).collect();
        let statuses: Vec<&str> = steps.iter().map(|s| s.status.as_str()).collect();
        let durations: Vec<Option<i64>> = steps
            .iter()
            .map(|s| s.duration_ms.map(|d| d as i64))
            .collect();
        // Borrowed: the rows are already in memory, nothing is copied to bind them.
        let payloads: Vec<&[u8]> = steps.iter().map(|s| s.payload.as_slice()).collect();
        let prevs: Vec<&[u8]> = steps.iter().map(|s| s.prev_hash.as_slice()).collect();
        let hashes: Vec<&[u8]> = steps.iter().map(|s| s.hash.as_slice()).collect();
        sqlx::query(
            "INSERT INTO aos_trace_steps
                 (trace_id, run_id, tenant_id, step_index, kind, skill_name, status, duration_ms, payload, prev_hash, hash)
             SELECT $1::text, $2::text, $3::text, u.* FROM
                 -- SET LOCAL synchronous_commit, for this statement's own transaction only:
                 -- no session state, so this works behind a transaction-mode pooler.
                 (SELECT set_config('synchronous_commit', $12, true) AS v) AS local_setting,
                 UNNEST($4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[],
                        $9::bytea[], $10::bytea[], $11::bytea[]) AS u
             WHERE local_setting.v = $12",
        )
        .bind(&ids.trace_id)
        .bind(&ids.run_id)
        .bind(&ids.tenant_id)
        .bind(&indexes)
        .bind(&kinds)
        .bind(&skills)
        .bind(&statuses)
        .bind(&durations)
        .bind(&payloads)
        .bind(&prevs)
        .bind(&hashes)
        .bind(synchronous_commit)
        .execute(db)
        .await?;
        Ok(())
    }

    /// The traces of a run, only if the run belongs to `tenant`.
    pub async fn traces_for_run(
        &self,
        tenant: &str,
        run_id: &str,
    ) -> Result<Vec<TraceRow>, StoreError> {
        Ok(sqlx::query_as::<_, TraceRow>(
            "SELECT t.trace_id, t.run_id, t.tenant_id, t.agent_id, t.status, t.integrity_model, t.started_at,
                    t.completed_at, t.chain_length, t.root_hash, t.sealed_at, t.merkle_root, t.signed_head,
                    t.signing_key_id,
                    (SELECT count(*) FROM aos_trace_steps s WHERE s.trace_id = t.trace_id) AS step_count
             FROM aos_traces t JOIN runs r ON r.id = t.run_id
             WHERE t.run_id = $1 AND r.tenant_id = $2 AND t.tenant_id = $2
             ORDER BY t.started_at, t.trace_id",
        )
        .bind(run_id)
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Streams a trace's steps in `step_index` order, without holding the trace in memory.
    pub fn stream_steps<'a>(
        &'a self,
        trace_id: &'a str,
    ) -> impl Stream<Item = Result<StoredStep, StoreError>> + Send + 'a {
        use futures_util::StreamExt;
        sqlx::query_as::<_, StepDbRow>(
            "SELECT trace_id, run_id, tenant_id, step_index, kind, skill_name, status, duration_ms,
                    cost_cents, payload, prev_hash, hash
             FROM aos_trace_steps WHERE trace_id = $1 ORDER BY step_index, id",
        )
        .bind(trace_id)
        .fetch(&self.pool)
        .map(|r| r.map(StoredStep::from).map_err(StoreError::from))
    }
}

/// The columns a step batch's COPY sends, in order (`cost_cents` and `created_at` take
/// their defaults, as with the INSERT).
const STEP_COPY: &str = "COPY aos_trace_steps (trace_id, run_id, tenant_id, step_index, kind, skill_name, status, duration_ms, payload, prev_hash, hash) FROM STDIN (FORMAT binary)";

/// A step batch as one binary COPY in its own transaction (COPY fires the table's
/// statement-level triggers, so a batch into a sealed trace is refused as with INSERT).
async fn copy_steps(
    db: &crate::db::Db,
    ids: &TraceIds,
    steps: &[NewStep],
    synchronous_commit: &str,
) -> Result<(), StoreError> {
    let mut data = BinaryCopy::new(11, steps.iter().map(|s| s.payload.len() + 220).sum());
    for s in steps {
        data.row()
            .text(&ids.trace_id)
            .text(&ids.run_id)
            .text(&ids.tenant_id)
            .bigint(s.step_index as i64)
            .text(s.kind.as_str())
            .opt_text(s.skill_name.as_deref())
            .text(s.status.as_str())
            .opt_bigint(s.duration_ms.map(|d| d as i64))
            .bytes(&s.payload)
            .bytes(&s.prev_hash)
            .bytes(&s.hash);
    }
    let data = data.finish();
    let mut tx = db.begin().await?;
    sqlx::query("SELECT set_config('synchronous_commit', $1, true)")
        .bind(synchronous_commit)
        .execute(&mut *tx)
        .await?;
    let mut copy = tx.copy_in_raw(STEP_COPY).await?;
    if let Err(e) = copy.send(data).await {
        // The connection must leave COPY mode before it can roll back.
        let _ = copy.abort("the step batch could not be sent").await;
        return Err(e.into());
    }
    let written = copy.finish().await?;
    if written != steps.len() as u64 {
        return Err(StoreError::Db(format!(
            "COPY wrote {written} of {} trace steps",
            steps.len()
        )));
    }
    tx.commit().await?;
    Ok(())
}
