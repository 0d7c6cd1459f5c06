//! Resource limits of one invocation: the runtime's defaults and ceilings, the operator's
//! grant per agent, the skill's own request in `describe`, and the effective limit (the
//! smallest of the three). Also the reasons a limit hit is reported with: each names the
//! limit and its value, so a failed step says what stopped it.

use crate::bindings::runproof::skill::types::Capabilities;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Linear memory when neither the agent nor the skill says otherwise.
pub const DEFAULT_MAX_MEMORY_BYTES: u64 = 64 * MIB;
/// No grant can give more: a skill is a bounded helper, not a database.
pub const CEILING_MAX_MEMORY_BYTES: u64 = GIB;
pub const DEFAULT_TIMEOUT_MS: u64 = 60_000;
/// Ten minutes: a run holds a database transaction's worth of state in memory meanwhile.
pub const CEILING_TIMEOUT_MS: u64 = 600_000;
pub const DEFAULT_MAX_HOST_CALLS: u64 = 10_000;
/// Every host call is a trace step; this bounds one invocation's share of a trace.
pub const CEILING_MAX_HOST_CALLS: u64 = 1_000_000;
/// Fuel is off unless granted; a grant above this is cut to it (about minutes of compute).
pub const CEILING_FUEL: u64 = 1_000_000_000_000;
/// Scratch quotas (`fs_quota.rs`), per run: bytes written (overwrites included), entries
/// created, and descriptors open at once.
pub const DEFAULT_SCRATCH_MAX_BYTES: u64 = 64 * MIB;
pub const CEILING_SCRATCH_MAX_BYTES: u64 = 16 * GIB;
pub const DEFAULT_SCRATCH_MAX_FILES: u64 = 1_000;
pub const CEILING_SCRATCH_MAX_FILES: u64 = 100_000;
pub const DEFAULT_SCRATCH_MAX_OPEN: u64 = 32;
/// Far below the process's descriptor limit (raised at start to at least
/// `scratch::MIN_NOFILE`): the pool's concurrent invocations times this still leaves the
/// runtime its own database connections, trace writer and listening sockets.
pub const CEILING_SCRATCH_MAX_OPEN: u64 = 256;
/// Output an invocation may return, fixed: outputs are stored in the trace and fed to later
/// steps, so they stay small. Not grantable.
pub const MAX_OUTPUT_BYTES: u64 = 4 * MIB;

/// What the operator grants an agent (`runtime agent create --max-memory ... `). `None`:
/// the runtime default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LimitGrant {
    pub max_memory_bytes: Option<u64>,
    pub timeout_ms: Option<u64>,
    /// `None`: fuel metering off (the deadline still holds).
    pub fuel: Option<u64>,
    pub max_host_calls: Option<u64>,
    /// A per-run scratch directory, preopened as [`SCRATCH_GUEST_PATH`].
    pub scratch_dir: bool,
    /// Quotas on it; `None`: the defaults.
    pub scratch_max_bytes: Option<u64>,
    pub scratch_max_files: Option<u64>,
    pub scratch_max_open_files: Option<u64>,
}

/// Where a granted scratch directory appears inside the guest.
pub const SCRATCH_GUEST_PATH: &str = "/scratch";

/// Limits of one invocation. A limit hit ends the invocation with a reason naming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InvocationLimits {
    pub max_memory_bytes: usize,
    #[serde(rename = "timeout_ms", serialize_with = "as_millis")]
    pub timeout: Duration,
    /// `None`: fuel is not metered for this invocation.
    pub fuel: Option<u64>,
    pub max_host_calls: u64,
    pub max_output_bytes: usize,
    /// Whether the run's scratch directory is preopened.
    pub scratch_dir: bool,
    /// Its quotas (meaningful only with `scratch_dir`).
    pub scratch_max_bytes: u64,
    pub scratch_max_files: u64,
    pub scratch_max_open_files: u64,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl Default for InvocationLimits {
    fn default() -> Self {
        InvocationLimits {
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES as usize,
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
            fuel: None,
            max_host_calls: DEFAULT_MAX_HOST_CALLS,
            max_output_bytes: MAX_OUTPUT_BYTES as usize,
            scratch_dir: false,
            scratch_max_bytes: DEFAULT_SCRATCH_MAX_BYTES,
            scratch_max_files: DEFAULT_SCRATCH_MAX_FILES,
            scratch_max_open_files: DEFAULT_SCRATCH_MAX_OPEN,
        }
    }
}

impl InvocationLimits {
    /// The effective limits: for each resource the smallest of what the skill asks for in
    /// `describe` (if anything), the agent's grant (else the default) and the ceiling. A
    /// skill asking for more than it is granted gets the grant, never more.
    pub fn effective(requested: &Capabilities, grant: &LimitGrant) -> Self {
        let pick = |skill: Option<u64>, agent: Option<u64>, default: u64, ceiling: u64| {
            let granted = agent.unwrap_or(default).min(ceiling);
            skill.map_or(granted, |s| s.min(granted))
        };
        InvocationLimits {
            max_memory_bytes: pick(
                requested.max_memory_bytes,
                grant.max_memory_bytes,
                DEFAULT_MAX_MEMORY_BYTES,
                CEILING_MAX_MEMORY_BYTES,
            ) as usize,
            timeout: Duration::from_millis(pick(
                requested.timeout_ms,
                grant.timeout_ms,
                DEFAULT_TIMEOUT_MS,
                CEILING_TIMEOUT_MS,
            )),
            fuel: grant.fuel.map(|f| f.min(CEILING_FUEL)),
            max_host_calls: pick(
                None,
                grant.max_host_calls,
                DEFAULT_MAX_HOST_CALLS,
                CEILING_MAX_HOST_CALLS,
            ),
            max_output_bytes: MAX_OUTPUT_BYTES as usize,
            // Only the operator decides; a skill cannot ask its way into a filesystem.
            scratch_dir: grant.scratch_dir,
            scratch_max_bytes: pick(
                None,
                grant.scratch_max_bytes,
                DEFAULT_SCRATCH_MAX_BYTES,
                CEILING_SCRATCH_MAX_BYTES,
            ),
            scratch_max_files: pick(
                None,
                grant.scratch_max_files,
                DEFAULT_SCRATCH_MAX_FILES,
                CEILING_SCRATCH_MAX_FILES,
            ),
            scratch_max_open_files: pick(
                None,
                grant.scratch_max_open_files,
                DEFAULT_SCRATCH_MAX_OPEN,
                CEILING_SCRATCH_MAX_OPEN,
            ),
        }
    }

    /// The ceilings, as JSON for `skill inspect` and `agent show`.
    pub fn ceilings_json() -> serde_json::Value {
        serde_json::json!({
            "max_memory_bytes": CEILING_MAX_MEMORY_BYTES,
            "timeout_ms": CEILING_TIMEOUT_MS,
            "fuel": CEILING_FUEL,
            "max_host_calls": CEILING_MAX_HOST_CALLS,
            "max_output_bytes": MAX_OUTPUT_BYTES,
            "scratch_max_bytes": CEILING_SCRATCH_MAX_BYTES,
            "scratch_max_files": CEILING_SCRATCH_MAX_FILES,
            "scratch_max_open_files": CEILING_SCRATCH_MAX_OPEN,
        })
    }

    /// The defaults (what a grant of `None` means), as JSON.
    pub fn defaults_json() -> serde_json::Value {
        serde_json::json!({
            "max_memory_bytes": DEFAULT_MAX_MEMORY_BYTES,
            "timeout_ms": DEFAULT_TIMEOUT_MS,
            "fuel": null,
            "max_host_calls": DEFAULT_MAX_HOST_CALLS,
            "max_output_bytes": MAX_OUTPUT_BYTES,
            "scratch_dir": false,
            "scratch_max_bytes": DEFAULT_SCRATCH_MAX_BYTES,
            "scratch_max_files": DEFAULT_SCRATCH_MAX_FILES,
            "scratch_max_open_files": DEFAULT_SCRATCH_MAX_OPEN,
        })
    }
}

/// Which limit stopped an invocation. Its `Display` is the step's failure reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitHit {
    Memory {
        limit: u64,
    },
    Table {
        limit: u64,
    },
    Deadline {
        limit: Duration,
    },
    Fuel {
        limit: u64,
    },
    HostCalls {
        limit: u64,
    },
    Output {
        size: u64,
        limit: u64,
    },
    /// Captured stdout or stderr is full.
    Stdio {
        stream: &'static str,
        limit: u64,
    },
    Stack,
    /// Scratch quotas (`fs_quota.rs`).
    ScratchBytes {
        limit: u64,
    },
    ScratchFiles {
        limit: u64,
    },
    OpenDescriptors {
        limit: u64,
    },
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitHit::Memory { limit } => write!(f, "memory limit of {} exceeded", Bytes(*limit)),
            LimitHit::Table { limit } => write!(f, "table limit of {limit} elements exceeded"),
            LimitHit::Deadline { limit } => {
                write!(f, "deadline of {} ms exceeded", limit.as_millis())
            }
            LimitHit::Fuel { limit } => write!(f, "fuel exhausted ({limit} units)"),
            LimitHit::HostCalls { limit } => write!(f, "host call limit of {limit} reached"),
            LimitHit::Output { size, limit } => {
                write!(
                    f,
                    "output of {size} bytes exceeds the {} cap",
                    Bytes(*limit)
                )
            }
            LimitHit::Stdio { stream, limit } => {
                write!(f, "{stream} limit of {} reached", Bytes(*limit))
            }
            LimitHit::Stack => f.write_str("wasm stack overflow"),
            LimitHit::ScratchBytes { limit } => {
                write!(f, "scratch quota of {} written reached", Bytes(*limit))
            }
            LimitHit::ScratchFiles { limit } => {
                write!(f, "scratch quota of {limit} files created reached")
            }
            LimitHit::OpenDescriptors { limit } => {
                write!(f, "open file limit of {limit} descriptors reached")
            }
        }
    }
}

/// A byte count for people: `64 MiB`, `512 KiB`, else `N bytes`.
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            n if n >= GIB && n % GIB == 0 => write!(f, "{} GiB", n / GIB),
            n if n >= MIB && n % MIB == 0 => write!(f, "{} MiB", n / MIB),
            n if n >= KIB && n % KIB == 0 => write!(f, "{} KiB", n / KIB),
            n => write!(f, "{n} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(mem: Option<u64>, timeout: Option<u64>) -> Capabilities {
        Capabilities {
            outbound_hosts: vec![],
            secrets: vec![],
            max_memory_bytes: mem,
            timeout_ms: timeout,
        }
    }

    #[test]
    fn effective_is_the_smallest_of_skill_grant_and_ceiling() {
        let none = InvocationLimits::effective(&caps(None, None), &LimitGrant::default());
        assert_eq!(none, InvocationLimits::default());

        let grant = LimitGrant {
            max_memory_bytes: Some(32 * MIB),
            timeout_ms: Some(2_000),
            ..Default::default()
        };
        // The skill asks for less memory and more time than granted.
        let l = InvocationLimits::effective(&caps(Some(16 * MIB), Some(10_000)), &grant);
        assert_eq!(l.max_memory_bytes as u64, 16 * MIB);
        assert_eq!(l.timeout, Duration::from_millis(2_000));

        // A grant above the ceiling is cut to it.
        let huge = LimitGrant {
            max_memory_bytes: Some(100 * GIB),
            timeout_ms: Some(u64::MAX),
            fuel: Some(u64::MAX),
            max_host_calls: Some(u64::MAX),
            scratch_dir: true,
            scratch_max_bytes: Some(u64::MAX),
            scratch_max_files: Some(u64::MAX),
            scratch_max_open_files: Some(u64::MAX),
        };
        let l = InvocationLimits::effective(&caps(None, None), &huge);
        assert_eq!(l.max_memory_bytes as u64, CEILING_MAX_MEMORY_BYTES);
        assert_eq!(l.timeout, Duration::from_millis(CEILING_TIMEOUT_MS));
        assert_eq!(l.fuel, Some(CEILING_FUEL));
        assert_eq!(l.max_host_calls, CEILING_MAX_HOST_CALLS);
        assert!(l.scratch_dir);
        assert_eq!(l.scratch_max_bytes, CEILING_SCRATCH_MAX_BYTES);
        assert_eq!(l.scratch_max_files, CEILING_SCRATCH_MAX_FILES);
        assert_eq!(l.scratch_max_open_files, CEILING_SCRATCH_MAX_OPEN);
    }

    #[test]
    fn reasons_name_the_limit() {
        assert_eq!(
            LimitHit::Memory { limit: 64 * MIB }.to_string(),
            "memory limit of 64 MiB exceeded"
        );
        assert_eq!(
            LimitHit::Deadline {
                limit: Duration::from_secs(2)
            }
            .to_string(),
            "deadline of 2000 ms exceeded"
        );
        assert_eq!(
            LimitHit::Fuel { limit: 10_000_000 }.to_string(),
            "fuel exhausted (10000000 units)"
        );
        assert_eq!(
            LimitHit::HostCalls { limit: 10_000 }.to_string(),
            "host call limit of 10000 reached"
        );
        assert_eq!(
            LimitHit::Output {
                size: 104_857_600,
                limit: 4 * MIB
            }
            .to_string(),
            "output of 104857600 bytes exceeds the 4 MiB cap"
        );
        assert_eq!(LimitHit::Stack.to_string(), "wasm stack overflow");
        assert_eq!(
            LimitHit::Stdio {
                stream: "stdout",
                limit: MIB
            }
            .to_string(),
            "stdout limit of 1 MiB reached"
        );
        assert_eq!(Bytes(1000).to_string(), "1000 bytes");
    }
}
