//! Compact recording of clock and random reads.
//!
//! An interpreter (CPython, SpiderMonkey) reads randomness and clocks thousands of times
//! while it starts, a few bytes at a time; one step per read made a 7-step trace 2 500
//! steps long. Here consecutive reads of the same source become **one step** that carries
//! every value handed out, in order, so the trace stays complete: serving a later replay
//! of the invocation means handing out `reads[0]`, `reads[1]`, ... of each such step, in
//! chain order, to the calls of its kind.
//!
//! A run of reads ends when anything else is recorded for the invocation (a log line, an
//! HTTP exchange, a denial, its stdout), when a read of another source comes, when the run
//! is full ([`MAX_READS_PER_STEP`], [`MAX_RANDOM_BYTES_PER_STEP`]), and when the invocation
//! ends. The run is written out *before* whatever ended it, so the chain keeps the order
//! of calls. Each step counts once against the host-call cap (when it starts), so the cap
//! still bounds the trace: at most `max_host_calls` steps of bounded size.
//!
//! Step bodies (kinds unchanged):
//! - `host.random`: `{"source": "secure" | "insecure" | "insecure-seed", "reads": ["<hex>", ...]}`,
//!   one hex string per call, exactly the bytes that call returned;
//! - `host.clock.monotonic`: `{"reads": [<ns>, ...]}`;
//! - `host.clock.wall`: `{"reads": [{"seconds": s, "nanoseconds": n}, ...]}`.

use crate::meter::CallMeter;
use crate::recorder::{HostEvent, NotDurable, RecorderFuture, TraceRecorder};
use runproof_proof::{StepKind, StepStatus};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// Most reads one step carries; the next read starts a new step (counted again).
pub const MAX_READS_PER_STEP: usize = 4096;
/// Most random bytes one step carries (hex doubles it in the payload). A single read larger
/// than this is still recorded whole, in a step of its own.
pub const MAX_RANDOM_BYTES_PER_STEP: usize = 64 << 10;

/// One read handed out to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    Random {
        source: &'static str,
        bytes: Vec<u8>,
    },
    Wall {
        seconds: u64,
        nanoseconds: u32,
    },
    Monotonic {
        nanoseconds: u64,
    },
}

/// Which reads may share a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Random(&'static str),
    Wall,
    Monotonic,
}

impl Read {
    fn source(&self) -> Source {
        match self {
            Read::Random { source, .. } => Source::Random(source),
            Read::Wall { .. } => Source::Wall,
            Read::Monotonic { .. } => Source::Monotonic,
        }
    }

    fn value(&self) -> serde_json::Value {
        match self {
            Read::Random { bytes, .. } => hex::encode(bytes).into(),
            Read::Wall {
                seconds,
                nanoseconds,
            } => serde_json::json!({"seconds": seconds, "nanoseconds": nanoseconds}),
            Read::Monotonic { nanoseconds } => (*nanoseconds).into(),
        }
    }

    fn random_len(&self) -> usize {
        match self {
            Read::Random { bytes, .. } => bytes.len(),
            _ => 0,
        }
    }
}

/// The reads not yet written out.
struct PendingRun {
    skill: Arc<str>,
    source: Source,
    reads: Vec<serde_json::Value>,
    random_bytes: usize,
}

impl PendingRun {
    fn has_room_for(&self, read: &Read) -> bool {
        self.source == read.source()
            && self.reads.len() < MAX_READS_PER_STEP
            && self.random_bytes + read.random_len() <= MAX_RANDOM_BYTES_PER_STEP
    }

    fn into_event(self) -> (Arc<str>, HostEvent) {
        let (kind, body) = match self.source {
            Source::Random(source) => (
                StepKind::HostRandom,
                serde_json::json!({"source": source, "reads": self.reads}),
            ),
            Source::Wall => (
                StepKind::HostWallClock,
                serde_json::json!({"reads": self.reads}),
            ),
            Source::Monotonic => (
                StepKind::HostMonotonicClock,
                serde_json::json!({"reads": self.reads}),
            ),
        };
        (
            self.skill,
            HostEvent {
                kind,
                status: StepStatus::Success,
                duration_ms: None,
                body,
            },
        )
    }
}

/// The recorder one invocation reports to: reads are gathered into runs, everything else
/// is passed on to the trace's recorder after the pending run. Every event of the
/// invocation goes through here, so no other step can slip in between a read and the run
/// it belongs to (a `wasi:http` exchange records from its own task, concurrently with the
/// guest's reads: the lock orders them).
pub(crate) struct Compactor {
    inner: Arc<dyn TraceRecorder>,
    meter: Arc<CallMeter>,
    pending: Mutex<Option<PendingRun>>,
}

impl Compactor {
    pub fn new(inner: Arc<dyn TraceRecorder>, meter: Arc<CallMeter>) -> Self {
        Compactor {
            inner,
            meter,
            pending: Mutex::new(None),
        }
    }

    /// Records one read. Starting a step counts one host call; past the cap the read is
    /// not recorded (the epoch callback then stops the skill with the limit named).
    pub fn read(&self, skill: &Arc<str>, read: Read) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(run) = pending.as_mut()
            && run.has_room_for(&read)
            && *run.skill == **skill
        {
            run.random_bytes += read.random_len();
            run.reads.push(read.value());
            return;
        }
        if let Some(run) = pending.take() {
            let (skill, event) = run.into_event();
            self.inner.record(&skill, event);
        }
        if self.meter.count() {
            *pending = Some(PendingRun {
                skill: skill.clone(),
                source: read.source(),
                random_bytes: read.random_len(),
                reads: vec![read.value()],
            });
        }
    }

    /// Writes out the pending run, if any (at the end of an invocation).
    pub fn flush(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(run) = pending.take() {
            let (skill, event) = run.into_event();
            self.inner.record(&skill, event);
        }
    }
}

impl TraceRecorder for Compactor {
    fn record(&self, skill: &str, event: HostEvent) {
        // Held across both so a concurrent read lands after this event, never before it.
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(run) = pending.take() {
            let (skill, event) = run.into_event();
            self.inner.record(&skill, event);
        }
        self.inner.record(skill, event);
    }

    /// The write-ahead of an outbound request: the pending run first, then the intent,
    /// chained under the same lock (so no read slips between them), and the wait for the
    /// disk is the trace recorder's.
    fn record_durable(
        &self,
        skill: &str,
        event: HostEvent,
    ) -> RecorderFuture<'_, Result<(), NotDurable>> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(run) = pending.take() {
            let (skill, event) = run.into_event();
            self.inner.record(&skill, event);
        }
        let durable = self.inner.record_durable(skill, event);
        drop(pending);
        durable
    }

    fn backpressure(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.inner.backpressure()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Mutex<Vec<(String, HostEvent)>>);

    impl TraceRecorder for Collect {
        fn record(&self, skill: &str, event: HostEvent) {
            self.0.lock().unwrap().push((skill.to_string(), event));
        }
    }

    fn setup(max: u64) -> (Arc<Collect>, Compactor, Arc<str>) {
        let sink = Arc::new(Collect::default());
        let c = Compactor::new(sink.clone(), Arc::new(CallMeter::new(max)));
        (sink, c, Arc::from("s"))
    }

    fn random(b: &[u8]) -> Read {
        Read::Random {
            source: "secure",
            bytes: b.to_vec(),
        }
    }

    fn log_event() -> HostEvent {
        HostEvent {
            kind: StepKind::HostLog,
            status: StepStatus::Success,
            duration_ms: None,
            body: serde_json::json!({"message": "x"}),
        }
    }

    /// Records which events were asked to be durable.
    #[derive(Default)]
    struct Durable(Mutex<Vec<(StepKind, bool)>>);

    impl TraceRecorder for Durable {
        fn record(&self, _: &str, event: HostEvent) {
            self.0.lock().unwrap().push((event.kind, false));
        }

        fn record_durable(
            &self,
            _: &str,
            event: HostEvent,
        ) -> RecorderFuture<'_, Result<(), NotDurable>> {
            self.0.lock().unwrap().push((event.kind, true));
            Box::pin(std::future::ready(Err(NotDurable("test".into()))))
        }
    }

    #[tokio::test]
    async fn a_write_ahead_goes_through_to_the_trace_recorder_after_the_pending_reads() {
        let sink = Arc::new(Durable::default());
        let c = Compactor::new(sink.clone(), Arc::new(CallMeter::new(100)));
        let s: Arc<str> = Arc::from("s");
        c.read(&s, random(b"ab"));
        let intent = HostEvent {
            kind: StepKind::HostIntent,
            ..log_event()
        };
        // The wrapped recorder's answer (here: not durable) is what the caller gets.
        assert!(c.record_durable("s", intent).await.is_err());
        assert_eq!(
            *sink.0.lock().unwrap(),
            vec![(StepKind::HostRandom, false), (StepKind::HostIntent, true)]
        );
    }

    #[test]
    fn consecutive_reads_become_one_step_with_every_value_in_order() {
        let (sink, c, s) = setup(100);
        for i in 0..2497u32 {
            c.read(&s, random(&i.to_le_bytes()));
        }
        c.record("s", log_event());
        c.read(&s, Read::Monotonic { nanoseconds: 5 });
        c.read(&s, Read::Monotonic { nanoseconds: 9 });
        c.flush();
        let got = sink.0.lock().unwrap();
        let kinds: Vec<StepKind> = got.iter().map(|(_, e)| e.kind).collect();
        assert_eq!(
            kinds,
            [
                StepKind::HostRandom,
                StepKind::HostLog,
                StepKind::HostMonotonicClock
            ]
        );
        let reads = got[0].1.body["reads"].as_array().unwrap();
        assert_eq!(reads.len(), 2497);
        assert_eq!(reads[0], "00000000");
        assert_eq!(reads[2496], hex::encode(2496u32.to_le_bytes()));
        assert_eq!(got[0].1.body["source"], "secure");
        assert_eq!(got[2].1.body["reads"], serde_json::json!([5, 9]));
    }

    #[test]
    fn a_step_counts_once_and_the_cap_still_bounds_the_trace() {
        let (sink, c, s) = setup(3);
        // Alternating sources: each read starts a step, so the fourth is past the cap.
        for i in 0..10u64 {
            if i % 2 == 0 {
                c.read(&s, Read::Monotonic { nanoseconds: i });
            } else {
                c.read(&s, random(&[i as u8]));
            }
        }
        c.flush();
        assert_eq!(sink.0.lock().unwrap().len(), 3);
        assert!(c.meter.exceeded());
    }

    #[test]
    fn a_full_step_starts_the_next() {
        let (sink, c, s) = setup(100);
        for _ in 0..MAX_READS_PER_STEP + 1 {
            c.read(&s, Read::Monotonic { nanoseconds: 1 });
        }
        let big = vec![7u8; MAX_RANDOM_BYTES_PER_STEP];
        c.read(&s, random(&big));
        c.read(&s, random(&[1]));
        c.flush();
        let got = sink.0.lock().unwrap();
        let sizes: Vec<usize> = got
            .iter()
            .map(|(_, e)| e.body["reads"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [MAX_READS_PER_STEP, 1, 1, 1]);
    }
}
