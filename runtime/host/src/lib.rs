//! The RunProof host: runs skill components on wasmtime, sandboxed, and reports every host
//! call they make to a [`TraceRecorder`].
//!
//! - [`SkillHost`] owns the one shared `Engine`, the compiled-component cache (by SHA-256 of
//!   the bytes) and the epoch ticker that enforces deadlines.
//! - A skill reaches the world only through `runproof:skill/http` (or standard `wasi:http`
//!   p2, routed into the same outbound path by `wasi_http`) and `runproof:skill/log`, plus
//!   WASI p2 locked down: no files, no env, no args, no sockets, stdio captured, and clocks
//!   and randomness served by recording implementations ([`wasi`], `wasi_random`), their
//!   consecutive reads compacted into one step each (`compact`).
//! - Outbound HTTP is made by the host ([`http`]) and only to destinations the agent's
//!   policy *and* the skill's own request both allow ([`policy`]).
//!
//! - Every answer a host call gets (HTTP, clocks, randomness) comes from a [`world::World`]:
//!   the live world in a run, the recorded trace in a replay ([`replay`]).
//!
//! Hashing and persistence are not here: the recorder (in the runner) does them, so this
//! crate does no database I/O.

mod bindings;
mod compact;
mod compile;
pub mod deadline;
mod engine;
mod engine_config;
mod error;
pub mod fs_quota;
pub mod http;
mod limiter;
pub mod limits;
mod meter;
pub mod policy;
pub mod pool;
pub mod progress;
mod recorded;
mod recorder;
pub mod redact;
pub mod replay;
mod reporter;
mod scratch;
mod scratch_quota;
pub mod secrets;
mod state;
pub mod trace_caps;
mod validate;
mod wasi;
mod wasi_http;
mod wasi_random;
pub mod world;

pub use bindings::runproof::skill::types::{Capabilities, SkillError, SkillInfo};
pub use engine::{
    HostConfig, HostError, InvocationOutcome, LoadedSkill, SkillHost, component_digest,
};
pub use limits::{InvocationLimits, LimitGrant, LimitHit};
pub use policy::{HostPattern, OutboundPolicy, PolicyError};
pub use progress::{CompileEvent, CompileProgress};
pub use recorded::{RecordedStep, holds_digest, is_bounded, same_asked, summary as step_summary};
pub use recorder::{
    HostEvent, NotDurable, NullRecorder, RecorderFuture, TraceRecorder, WriteAhead,
};
pub use replay::{Divergence, InvocationTrace, Observed, ReplayError, Replayed};
pub use scratch::ScratchDir;
pub use secrets::{Secret, SecretSet, valid_secret_name};
