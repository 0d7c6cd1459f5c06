//! The recorder of one trace: turns events into exact bytes, chains them, and writes them
//! to Postgres in batches.
//!
//! Serializing and hashing happen in `record`, on the calling task, under one lock, so the
//! order of `step_index` is the order of the calls. Rows are written in batches (one round
//! trip each); a full batch is written before the skill's next async host call returns,
//! which bounds memory. `flush` makes every recorded step durable; the runner calls it
//! before sealing.

use runproof_host::{HostEvent, TraceRecorder};
use runproof_proof::{ChainBuilder, Digest, StepEnvelope, StepKind, StepStatus, TraceIds};
use runproof_store::{StepRow, Store, StoreError};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

/// What a trace's seal states about its steps.
#[derive(Debug, Clone, Copy)]
pub struct SealedHead {
    pub chain_length: u64,
    pub chain_head: Digest,
    pub merkle_root: Digest,
}

/// Rows per INSERT round trip.
const BATCH: usize = 512;

pub struct TraceWriter {
    ids: TraceIds,
    store: Store,
    state: Mutex<Pending>,
    /// Serializes flushes so batches reach the database in index order.
    flushing: tokio::sync::Mutex<()>,
}

struct Pending {
    chain: ChainBuilder,
    rows: Vec<StepRow>,
    /// The first write error; once set the trace can never be sealed.
    failed: Option<String>,
}

impl TraceWriter {
    pub fn new(store: Store, ids: TraceIds) -> Self {
        let chain = ChainBuilder::new(&ids.tenant_id, &ids.run_id, &ids.trace_id);
        TraceWriter {
            ids,
            store,
            state: Mutex::new(Pending { chain, rows: Vec::new(), failed: None }),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic while holding the lock cannot leave a half-appended step (append is one
        // call), so the state is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one step. `run_status` only on `run.end`.
    pub fn append(
        &self,
        kind: StepKind,
        skill: Option<&str>,
        status: StepStatus,
        duration_ms: Option<u64>,
        run_status: Option<&str>,
        body: serde_json::Value,
    ) {
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let payload = StepEnvelope { v: 1, kind, skill, status, duration_ms, run_status, cost_cents: 0, at: &at, body }.to_bytes();
        let mut p = self.lock();
        let linked = p.chain.append(&payload);
        p.rows.push(StepRow {
            trace_id: self.ids.trace_id.clone(),
            run_id: self.ids.run_id.clone(),
            tenant_id: self.ids.tenant_id.clone(),
            step_index: linked.step_index as i64,
            kind: kind.as_str(),
            skill_name: skill.map(str::to_string),
            status: status.as_str(),
            duration_ms: duration_ms.map(|d| d as i64),
            payload,
            prev_hash: linked.prev_hash.to_vec(),
            hash: linked.hash.to_vec(),
        });
    }

    /// Writes every recorded step. Returns the first write error of this trace, if any.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let _turn = self.flushing.lock().await;
        loop {
            let batch = {
                let mut p = self.lock();
                if let Some(e) = &p.failed {
                    return Err(StoreError::Db(e.clone()));
                }
                if p.rows.is_empty() {
                    return Ok(());
                }
                let n = p.rows.len().min(BATCH);
                p.rows.drain(..n).collect::<Vec<_>>()
            };
            if let Err(e) = self.store.append_steps(&batch).await {
                self.lock().failed = Some(e.to_string());
                return Err(e);
            }
        }
    }

    /// Steps recorded so far, the chain head and the Merkle root: what the seal will say.
    pub fn head(&self) -> SealedHead {
        let p = self.lock();
        SealedHead { chain_length: p.chain.len(), chain_head: p.chain.head(), merkle_root: p.chain.merkle_root() }
    }

    pub fn ids(&self) -> &TraceIds {
        &self.ids
    }
}

impl TraceRecorder for TraceWriter {
    fn record(&self, skill: &str, e: HostEvent) {
        self.append(e.kind, Some(skill), e.status, e.duration_ms, None, e.body);
    }

    fn backpressure(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if self.lock().rows.len() >= BATCH {
                // A failure is kept in `failed` and surfaces at the final flush, which then
                // refuses to seal: the run fails rather than claiming a complete trace.
                let _ = self.flush().await;
            }
        })
    }
}
