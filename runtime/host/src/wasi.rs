//! WASI p2 for skills, locked down: no preopened directories, no environment, no arguments,
//! no sockets, an empty stdin, and stdout/stderr captured in memory. Rust's std on
//! wasm32-wasip2 imports these interfaces even when a skill never uses them, so they are
//! linked, but they grant nothing.
//!
//! Clocks and randomness are served by the implementations below, which report every read
//! to the recorder: a skill's view of time and chance is part of its trace.

use crate::recorder::{HostEvent, TraceRecorder};
use rand010::{Rng as _, RngExt as _, TryRng};
use runproof_proof::{StepKind, StepStatus};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

/// Who to report reads to, and as which skill.
#[derive(Clone)]
pub(crate) struct Reporter {
    pub recorder: Arc<dyn TraceRecorder>,
    pub skill: Arc<str>,
}

impl Reporter {
    fn report(&self, kind: StepKind, body: serde_json::Value) {
        self.recorder.record(&self.skill, HostEvent { kind, status: StepStatus::Success, duration_ms: None, body });
    }
}

struct RecordingWallClock(Reporter);

impl HostWallClock for RecordingWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        // A clock before 1970 is reported as the epoch rather than failing the skill.
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        self.0.report(
            StepKind::HostWallClock,
            serde_json::json!({"seconds": now.as_secs(), "nanoseconds": now.subsec_nanos()}),
        );
        now
    }
}

struct RecordingMonotonicClock {
    reporter: Reporter,
    origin: Instant,
}

impl HostMonotonicClock for RecordingMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        let ns = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.reporter.report(StepKind::HostMonotonicClock, serde_json::json!({"nanoseconds": ns}));
        ns
    }
}

/// Random bytes from the OS generator; every draw recorded with the bytes handed out.
struct RecordingRng {
    reporter: Reporter,
    source: &'static str,
}

impl RecordingRng {
    fn draw(&self, dst: &mut [u8]) {
        rand010::rng().fill_bytes(dst);
        self.reporter.report(
            StepKind::HostRandom,
            serde_json::json!({"source": self.source, "bytes": hex::encode(&*dst)}),
        );
    }
}

impl TryRng for RecordingRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.draw(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.draw(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.draw(dst);
        Ok(())
    }
}

/// Captured standard output and error of one invocation.
pub(crate) struct CapturedStdio {
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
}

/// Per stream. A skill writing more than this traps (the pipe refuses the write).
pub(crate) const STDIO_CAPACITY: usize = 1 << 20;

/// Builds the WASI context of one invocation.
pub(crate) fn locked_down(reporter: &Reporter) -> (WasiCtx, CapturedStdio) {
    let stdio = CapturedStdio {
        stdout: MemoryOutputPipe::new(STDIO_CAPACITY),
        stderr: MemoryOutputPipe::new(STDIO_CAPACITY),
    };
    // The insecure seed is a value handed over at instantiation, not a call we can observe;
    // it is recorded once here, so a replay can reproduce whatever the skill derived from it.
    let seed: u128 = rand010::rng().random();
    reporter.report(
        StepKind::HostRandom,
        serde_json::json!({"source": "insecure-seed", "value": format!("{seed:032x}"), "offered_at": "instantiation"}),
    );
    let mut b = WasiCtxBuilder::new();
    // Deliberately *not* called: inherit_stdio, inherit_env, inherit_args, preopened_dir,
    // inherit_network, allow_ip_name_lookup. The builder's defaults deny all of them.
    b.stdout(stdio.stdout.clone())
        .stderr(stdio.stderr.clone())
        .wall_clock(RecordingWallClock(reporter.clone()))
        .monotonic_clock(RecordingMonotonicClock { reporter: reporter.clone(), origin: Instant::now() })
        .secure_random(RecordingRng { reporter: reporter.clone(), source: "secure" })
        .insecure_random(RecordingRng { reporter: reporter.clone(), source: "insecure" })
        .insecure_random_seed(seed)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    (b.build(), stdio)
}
