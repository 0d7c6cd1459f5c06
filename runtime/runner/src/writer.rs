//! The recorder of one trace: turns events into exact bytes, chains them, and hands them to a
//! background task that writes them to Postgres in batches.
//!
//! - **On the calling task** (`record`/`append`), under one lock: serialize the step once,
//!   hash it into the chain (`Chain`), push the row. The Merkle tree over the chain hashes
//!   is built by the writer task as the rows reach it (in the same order), so the calling
//!   task pays one SHA-256 per step, not three. The order of `step_index` is
//!   the order of the calls, and what is hashed is what will be stored.
//! - **Off the hot path**: every `BATCH` rows are handed to the writer task through a
//!   bounded queue of `QUEUE_BATCHES` batches. The task writes what is queued in one batch
//!   (coalescing queued batches up to `MAX_ROWS_PER_ROUND_TRIP`), in queue order: a large
//!   batch as one binary COPY, a small one as one INSERT (`Store::append_steps`). The
//!   rows carry no ids: the batch binds the trace's ids once.
//! - **Never held back long**: every `TICK` the writer task takes the rows the calling task
//!   has not handed off yet (a skill that logs once and then computes, or waits on a slow
//!   server, does not keep its steps in memory), so every step reaches Postgres within
//!   about 100 ms of being recorded.
//! - **Write-ahead** (`record_durable`): a step announcing a side effect is handed off at
//!   once with a durable barrier: the task writes everything before it with a synchronous
//!   commit (the WAL is on disk, so it survives a crash of this process or of Postgres)
//!   before the caller may go on and send the request.
//! - **Back-pressure**: when the queue is full, the skill's next async host call waits
//!   (`TraceRecorder::backpressure`) until the task has caught up, so memory is bounded by
//!   the queue, not by the length of the run.
//! - **Durable before done**: `flush` queues what is left plus a barrier, and returns only
//!   when the task has written everything before it. The runner seals after that.
//!   The first write error is kept: later rows are dropped (the trace can never be sealed)
//!   and every later barrier returns the error, so the run fails with an unsealed trace
//!   (and a write-ahead that fails stops its request from being sent).
//!
//! One file: the chain (calling task) and the batches (writer task) share one lock and
//! one ordering argument; apart, that argument would span files.

use runproof_host::{HostEvent, NotDurable, RecorderFuture, TraceRecorder};
use runproof_proof::{Chain, Digest, MerkleBuilder, StepEnvelope, StepKind, StepStatus, TraceIds};
use runproof_store::{NewStep, Store, StoreError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What a trace's seal states about its steps.
#[derive(Debug, Clone, Copy)]
pub struct SealedHead {
    pub chain_length: u64,
    pub chain_head: Digest,
    pub merkle_root: Digest,
}

/// Rows the calling task hands to the writer task at once.
const BATCH: usize = 512;
/// Batches that may wait in the queue; a skill that outruns the database waits beyond this.
const QUEUE_BATCHES: usize = 8;
/// Rows the writer task writes in one batch (one COPY) when it has fallen behind.
const MAX_ROWS_PER_ROUND_TRIP: usize = 4096;
/// How often the writer task takes rows the calling task still holds: a step recorded
/// just after a tick is written one tick (plus a round trip) later, well within 100 ms.
const TICK: Duration = Duration::from_millis(50);

enum Msg {
    /// Rows to write, in `step_index` order after everything queued before them.
    Rows(Vec<NewStep>),
    /// The same, plus a barrier answered once these rows and everything before them are
    /// written (or with the first error); `durable`: with a synchronous commit. Rows and
    /// barrier travel in one message, so the writer task can never write the rows of a
    /// durable barrier without it (and a durable barrier always carries the step it makes
    /// durable: a commit that writes rows is one Postgres flushes).
    Barrier {
        rows: Vec<NewStep>,
        durable: bool,
        ack: oneshot::Sender<Result<(), String>>,
    },
}

pub struct TraceWriter {
    ids: TraceIds,
    shared: Arc<Shared>,
    queue: mpsc::Sender<Msg>,
    /// Whether `record_durable` waits for the disk (always, but for `runtime bench`
    /// measuring what that wait costs).
    write_ahead: bool,
}

/// What the calling task and the writer task both reach: the writer task takes held-back
/// rows from here on its tick.
struct Shared {
    state: Mutex<Pending>,
    /// The RFC 6962 tree over every step the writer task has taken, in `step_index` order
    /// (the queue's order). Complete once a barrier is answered.
    tree: Mutex<MerkleBuilder>,
    /// `state.rows.len()`, readable without the lock: `backpressure` runs after every
    /// async host call (and the tick every 50 ms) and almost always has nothing to do.
    pending: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic while holding the lock cannot leave a half-appended step (the chain and
        // the row are updated after the only fallible work), so the state is consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the held rows for the writer task, after everything already queued: rows
    /// enter the queue under this same lock, so what is queued is older than what is held.
    fn take_held(&self, rx: &mut mpsc::Receiver<Msg>, inbox: &mut VecDeque<Msg>) {
        if self.pending.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut p = self.lock();
        while let Ok(msg) = rx.try_recv() {
            inbox.push_back(msg);
        }
        if !p.rows.is_empty() {
            inbox.push_back(Msg::Rows(std::mem::replace(
                &mut p.rows,
                Vec::with_capacity(BATCH),
            )));
        }
        self.pending.store(0, Ordering::Relaxed);
    }
}

struct Pending {
    chain: Chain,
    /// Steps recorded but not yet handed to the writer task.
    rows: Vec<NewStep>,
    /// The skill name of the last step: a run's host calls come from one skill at a time,
    /// so sharing it saves an allocation per step.
    last_skill: Option<Arc<str>>,
}

impl TraceWriter {
    /// Starts the writer task on the current tokio runtime.
    pub fn new(store: Store, ids: TraceIds) -> Self {
        let chain = Chain::new(&ids.tenant_id, &ids.run_id, &ids.trace_id);
        // One slot more than the batches: a barrier always fits behind a full queue's
        // worth of rows.
        let (queue, rx) = mpsc::channel(QUEUE_BATCHES + 1);
        let shared = Arc::new(Shared {
            state: Mutex::new(Pending {
                chain,
                rows: Vec::with_capacity(BATCH),
                last_skill: None,
            }),
            pending: AtomicUsize::new(0),
            tree: Mutex::new(MerkleBuilder::new()),
        });
        tokio::spawn(write_loop(store, ids.clone(), rx, shared.clone()));
        TraceWriter {
            ids,
            shared,
            queue,
            write_ahead: true,
        }
    }

    /// For `runtime bench` only: intents are batched like any step instead of waited for,
    /// so the bench can show, side by side, what the write-ahead costs. A run recorded so
    /// can lose the intent of a request that was in flight when it crashed.
    pub fn without_write_ahead(mut self) -> Self {
        self.write_ahead = false;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.shared.lock()
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
        let step = Step {
            kind,
            skill,
            status,
            duration_ms,
            run_status,
            body,
        };
        self.push(step, false);
    }

    /// Serializes and chains `step`; with `take`, also takes every pending row (this one
    /// included) under the same lock, so the writer task's tick cannot take them first.
    fn push(&self, step: Step<'_>, take: bool) -> Vec<NewStep> {
        let Step {
            kind,
            skill,
            status,
            duration_ms,
            run_status,
            body,
        } = step;
        let at = timestamp(std::time::SystemTime::now());
        let mut envelope = StepEnvelope {
            skill,
            duration_ms,
            run_status,
            ..StepEnvelope::new(kind, status, at.as_str(), body)
        };
        let mut payload = serialize(&envelope);
        // The step cap (`trace_caps.rs`): rare, so measured on the bytes already made.
        if payload.len() > runproof_host::trace_caps::MAX_STEP_BYTES {
            let body = std::mem::take(&mut envelope.body);
            envelope.body = runproof_host::trace_caps::bound_body(body, payload.len());
            payload = envelope.to_bytes();
        }
        let mut p = self.lock();
        let linked = p.chain.append(&payload);
        let skill = skill.map(|name| match &p.last_skill {
            Some(last) if &**last == name => last.clone(),
            _ => {
                let shared: Arc<str> = Arc::from(name);
                p.last_skill = Some(shared.clone());
                shared
            }
        });
        p.rows.push(NewStep {
            step_index: linked.step_index,
            kind,
            skill_name: skill,
            status,
            duration_ms,
            payload,
            prev_hash: linked.prev_hash,
            hash: linked.hash,
        });
        if take {
            self.shared.pending.store(0, Ordering::Relaxed);
            return std::mem::replace(&mut p.rows, Vec::with_capacity(BATCH));
        }
        self.shared.pending.store(p.rows.len(), Ordering::Relaxed);
        if p.rows.len() >= BATCH {
            // Non-blocking hand-off (this may run inside a clock read). If the queue is
            // full the rows stay here and the next async host call waits for room.
            if let Ok(permit) = self.queue.try_reserve() {
                permit.send(Msg::Rows(std::mem::replace(
                    &mut p.rows,
                    Vec::with_capacity(BATCH),
                )));
                self.shared.pending.store(0, Ordering::Relaxed);
            }
        }
        Vec::new()
    }

    /// Hands the pending rows to the writer task, waiting for room in the queue. Rows are
    /// taken and sent under the lock, so batches enter the queue in `step_index` order.
    async fn hand_off(&self, at_least: usize) -> Result<(), StoreError> {
        let permit = self.queue.reserve().await.map_err(|_| stopped())?;
        let mut p = self.lock();
        if p.rows.len() >= at_least.max(1) {
            permit.send(Msg::Rows(std::mem::replace(
                &mut p.rows,
                Vec::with_capacity(BATCH),
            )));
            self.shared.pending.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Hands off every recorded step with a barrier, then waits until the writer task has
    /// written them all. The rows and the barrier are one message, sent under the lock, so
    /// nothing recorded later can come between them.
    async fn barrier(&self, durable: bool) -> Result<(), StoreError> {
        let permit = self.queue.reserve().await.map_err(|_| stopped())?;
        let (ack, done) = oneshot::channel();
        {
            let mut p = self.lock();
            let rows = std::mem::replace(&mut p.rows, Vec::with_capacity(BATCH));
            self.shared.pending.store(0, Ordering::Relaxed);
            permit.send(Msg::Barrier { rows, durable, ack });
        }
        answer(done).await
    }

    /// Makes every recorded step written. Returns the first write error of this trace, if
    /// any; after one, the trace must stay unsealed. (The seal's synchronous commit then
    /// makes them durable.)
    pub async fn flush(&self) -> Result<SealedHead, StoreError> {
        self.barrier(false).await?;
        self.head()
    }

    /// Sends `rows` (the step to make durable, taken with every pending row under the lock
    /// that chained it, see `push`) with a durable barrier, and waits until they and every
    /// step before them are durable: on disk, surviving a crash of this process or of
    /// Postgres. The write-ahead of side effects waits on this. The step is never in an
    /// asynchronous batch before its barrier: it travels in the barrier's own message.
    async fn send_durable(&self, rows: Vec<NewStep>) -> Result<(), StoreError> {
        let permit = self.queue.reserve().await.map_err(|_| stopped())?;
        let (ack, done) = oneshot::channel();
        permit.send(Msg::Barrier {
            rows,
            durable: true,
            ack,
        });
        answer(done).await
    }

    /// Steps recorded so far, the chain head and the Merkle root: what the seal will say.
    /// Only complete after a barrier (`flush`): the tree is the writer task's.
    fn head(&self) -> Result<SealedHead, StoreError> {
        let p = self.lock();
        let tree = self.shared.tree.lock().unwrap_or_else(|p| p.into_inner());
        // Fail closed: a head whose tree misses steps the chain has must never be sealed.
        if tree.len() != p.chain.len() {
            return Err(StoreError::Db(format!(
                "the Merkle tree covers {} of {} steps: something was recorded after the flush",
                tree.len(),
                p.chain.len()
            )));
        }
        Ok(SealedHead {
            chain_length: p.chain.len(),
            chain_head: p.chain.head(),
            merkle_root: tree.root(),
        })
    }

    pub fn ids(&self) -> &TraceIds {
        &self.ids
    }
}

/// One step as `append` takes it.
struct Step<'a> {
    kind: StepKind,
    skill: Option<&'a str>,
    status: StepStatus,
    duration_ms: Option<u64>,
    run_status: Option<&'a str>,
    body: serde_json::Value,
}

async fn answer(done: oneshot::Receiver<Result<(), String>>) -> Result<(), StoreError> {
    match done.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(StoreError::Db(e)),
        Err(_) => Err(stopped()),
    }
}

fn stopped() -> StoreError {
    StoreError::Db("the trace writer task stopped before the trace was durable".into())
}

/// The writer task: drains the queue in order until every sender is gone, and on every
/// tick takes the rows the calling task still holds.
async fn write_loop(store: Store, ids: TraceIds, mut rx: mpsc::Receiver<Msg>, shared: Arc<Shared>) {
    let mut failed: Option<String> = None;
    let mut rows: Vec<NewStep> = Vec::new();
    let mut inbox: VecDeque<Msg> = VecDeque::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if inbox.is_empty() {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(m) => inbox.push_back(m),
                    None => break,
                },
                _ = tick.tick() => shared.take_held(&mut rx, &mut inbox),
            }
            continue;
        }
        // Take what is already queued too: one round trip for all of it when behind.
        let mut barrier = None;
        while let Some(msg) = inbox.pop_front() {
            match msg {
                Msg::Rows(batch) => rows.extend(batch),
                Msg::Barrier {
                    rows: batch,
                    durable,
                    ack,
                } => {
                    rows.extend(batch);
                    // Everything queued before the barrier is written before it is
                    // answered: stop coalescing here.
                    barrier = Some((durable, ack));
                    break;
                }
            }
            if rows.len() >= MAX_ROWS_PER_ROUND_TRIP {
                break;
            }
            if inbox.is_empty()
                && let Ok(next) = rx.try_recv()
            {
                inbox.push_back(next);
            }
        }
        // A durable barrier carries the step it makes durable, so `rows` is never empty
        // then: the synchronous commit writes them, and flushing its WAL flushes every
        // earlier asynchronous batch's too (WAL is flushed in order). (A commit that
        // writes nothing would not wait for the disk.)
        let durable = matches!(barrier, Some((true, _)));
        {
            // Every row taken, written or not (after a failure nothing is sealed anyway).
            let mut tree = shared.tree.lock().unwrap_or_else(|p| p.into_inner());
            for r in &rows {
                tree.push_step(&r.hash);
            }
        }
        if failed.is_none()
            && !rows.is_empty()
            && let Err(e) = store.append_steps(&ids, &rows, durable).await
        {
            tracing::error!("trace steps could not be written; the trace will stay unsealed: {e}");
            failed = Some(e.to_string());
        }
        rows.clear();
        if let Some((_, ack)) = barrier {
            // The caller may be gone (the run was dropped): nothing to tell.
            let _ = ack.send(match &failed {
                Some(e) => Err(e.clone()),
                None => Ok(()),
            });
        }
    }
}

thread_local! {
    /// Where steps are serialized before being copied into a buffer of their exact size:
    /// one allocation per step instead of a vector grown from empty.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn serialize(envelope: &StepEnvelope<'_>) -> Vec<u8> {
    SCRATCH.with_borrow_mut(|buf| {
        buf.clear();
        envelope.write_into(buf);
        let payload = buf.as_slice().to_vec();
        // A rare huge step (up to the cap) must not pin its size on this thread for good.
        if buf.capacity() > 64 * 1024 {
            *buf = Vec::new();
        }
        payload
    })
}

/// `at` of a step: RFC 3339 UTC with microseconds (`2026-11-23T12:00:00.123456Z`, as
/// chrono's `to_rfc3339_opts(Micros, true)` writes it), formatted by hand because it runs
/// once per host call on the calling task and chrono's formatter is several times slower.
fn timestamp(t: std::time::SystemTime) -> Timestamp {
    let since = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = [0u8; 27];
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year.clamp(0, 9999) as u64);
    put(5, 2, month as u64);
    put(8, 2, day as u64);
    put(11, 2, rem / 3_600);
    put(14, 2, rem % 3_600 / 60);
    put(17, 2, rem % 60);
    put(20, 6, u64::from(since.subsec_micros()));
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (26, b'Z'),
    ] {
        out[i] = c;
    }
    Timestamp(out)
}

/// The 27 ASCII bytes of a step time, on the stack (no allocation per step).
struct Timestamp([u8; 27]);

impl Timestamp {
    fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or("1970-01-01T00:00:00.000000Z")
    }
}

impl TraceRecorder for TraceWriter {
    fn record(&self, skill: &str, e: HostEvent) {
        self.append(e.kind, Some(skill), e.status, e.duration_ms, None, e.body);
    }

    fn record_durable(
        &self,
        skill: &str,
        e: HostEvent,
    ) -> RecorderFuture<'_, Result<(), NotDurable>> {
        if !self.write_ahead {
            self.record(skill, e);
            return Box::pin(std::future::ready(Ok(())));
        }
        // Chained now, in call order (a caller such as the host's compactor relies on
        // this); only the wait for the disk is deferred.
        let rows = self.push(
            Step {
                kind: e.kind,
                skill: Some(skill),
                status: e.status,
                duration_ms: e.duration_ms,
                run_status: None,
                body: e.body,
            },
            true,
        );
        Box::pin(async move {
            self.send_durable(rows)
                .await
                .map_err(|e| NotDurable(e.to_string()))
        })
    }

    fn backpressure(&self) -> RecorderFuture<'_, ()> {
        // `pending` is written by `append` just before on this same task, so this read sees
        // it; were it ever stale, the hand-off would only move to the next host call.
        if self.shared.pending.load(Ordering::Relaxed) < BATCH {
            return Box::pin(std::future::ready(()));
        }
        Box::pin(async move {
            // Only a stopped task fails here; the final flush reports it and the run
            // fails rather than claiming a complete trace.
            let _ = self.hand_off(BATCH).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::timestamp;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_match_chrono() {
        for secs in [
            0u64,
            951_782_400,
            1_700_000_000,
            1_795_430_400,
            4_102_444_799,
            253_402_300_799,
        ] {
            for micros in [0u32, 1, 999_999, 123_456] {
                let t = UNIX_EPOCH + Duration::new(secs, micros * 1_000 + 789);
                let want = chrono::DateTime::<chrono::Utc>::from(t)
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                assert_eq!(timestamp(t).as_str(), want);
            }
        }
    }
}
