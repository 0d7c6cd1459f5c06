//! Where a skill's host calls get their answers.
//!
//! Everything nondeterministic a skill can see comes through the host: HTTP exchanges,
//! clock readings and random bytes. [`World`] is the one seam that decides where those
//! answers come from, so the rest of the host (policy, limits, recording) is the same code
//! whether a skill runs for real or is replayed against its trace:
//!
//! - [`LiveWorld`]: the real world (today's behaviour): the policed HTTP client, the OS
//!   clocks, the OS random generator;
//! - [`OfflineWorld`]: real clocks and randomness, and no network at all (`describe`);
//! - the replay tape (`replay.rs`): every answer read back from the recorded steps. It
//!   holds no HTTP client, so nothing a replayed skill does can leave the host.
//!
//! Recording is not here: the host reports every call to its `TraceRecorder` whichever the
//! world, so a replayed call produces exactly the event the original did.

use crate::http::{
    self, Deadline, HttpCaps, HttpError, OutboundError, OutboundRequest, OutboundResponse,
};
use crate::policy::OutboundPolicy;
use crate::recorder::WriteAhead;
use crate::secrets::SecretSet;
use rand::RngCore as _;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

/// What the live world needs to send a request on the skill's behalf. A world that does
/// not send requests ignores all but `ahead`.
pub struct HttpVia<'a> {
    pub policy: &'a OutboundPolicy,
    pub secrets: &'a SecretSet,
    pub caps: &'a HttpCaps,
    pub deadline: &'a Deadline,
    /// The call's write-ahead: committed (a durable `host.intent` step) just before a
    /// request leaves, and only then. A world that answers without sending commits it
    /// exactly where the world it stands for did (a replay: where the trace has the intent).
    pub ahead: &'a mut WriteAhead<'a>,
}

/// The answer to one outbound exchange.
pub type HttpAnswer = Result<OutboundResponse, OutboundError>;

/// Where host calls get their answers. One per invocation (the monotonic clock counts from
/// the invocation's start).
pub trait World: Send + Sync {
    /// One outbound HTTP exchange (the host call was already counted).
    fn http<'a>(
        &'a self,
        req: &'a OutboundRequest,
        via: HttpVia<'a>,
    ) -> Pin<Box<dyn Future<Output = HttpAnswer> + Send + 'a>>;

    /// `wasi:clocks/wall-clock.now`, as time since the UNIX epoch.
    fn wall_clock(&self) -> Duration;

    /// `wasi:clocks/monotonic-clock.now`, in nanoseconds.
    fn monotonic_clock(&self) -> u64;

    /// Fills `dst` from the random source `source` (`secure`, `insecure`,
    /// `insecure-seed`).
    fn random(&self, source: &'static str, dst: &mut [u8]);

    /// Whether the skill must be stopped now (checked on every epoch tick). Only a replay
    /// stops a skill this way: once the code has left the trace, nothing it does after
    /// that can be checked against it.
    fn halted(&self) -> bool {
        false
    }
}

/// The real world: what a run sees.
pub struct LiveWorld {
    origin: Instant,
}

impl LiveWorld {
    pub fn new() -> Self {
        LiveWorld {
            origin: Instant::now(),
        }
    }
}

impl Default for LiveWorld {
    fn default() -> Self {
        Self::new()
    }
}

impl World for LiveWorld {
    fn http<'a>(
        &'a self,
        req: &'a OutboundRequest,
        via: HttpVia<'a>,
    ) -> Pin<Box<dyn Future<Output = HttpAnswer> + Send + 'a>> {
        // The only call of the outbound client made on a skill's behalf.
        Box::pin(http::send(
            req,
            via.policy,
            via.secrets,
            via.caps,
            via.deadline,
            via.ahead,
        ))
    }

    fn wall_clock(&self) -> Duration {
        system_time()
    }

    fn monotonic_clock(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn random(&self, _source: &'static str, dst: &mut [u8]) {
        rand::rng().fill_bytes(dst);
    }
}

/// Real clocks and randomness, no network: for `describe`, which is not part of any run.
pub struct OfflineWorld(LiveWorld);

impl OfflineWorld {
    pub fn new() -> Self {
        OfflineWorld(LiveWorld::new())
    }
}

impl Default for OfflineWorld {
    fn default() -> Self {
        Self::new()
    }
}

impl World for OfflineWorld {
    fn http<'a>(
        &'a self,
        _req: &'a OutboundRequest,
        _via: HttpVia<'a>,
    ) -> Pin<Box<dyn Future<Output = HttpAnswer> + Send + 'a>> {
        // Refused before anything would leave: no intent.
        Box::pin(std::future::ready(Err(OutboundError::from(
            HttpError::Denied("describe cannot reach the network".into()),
        ))))
    }

    fn wall_clock(&self) -> Duration {
        self.0.wall_clock()
    }

    fn monotonic_clock(&self) -> u64 {
        self.0.monotonic_clock()
    }

    fn random(&self, source: &'static str, dst: &mut [u8]) {
        self.0.random(source, dst)
    }
}

/// The system clock since the UNIX epoch; a clock before 1970 reads as the epoch rather
/// than failing the skill.
fn system_time() -> Duration {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}
