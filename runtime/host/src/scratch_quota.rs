//! What a run's scratch quotas are and what it has used of them (`ScratchQuota`,
//! `ScratchUsage`, kept by the run's [`crate::ScratchDir`]), and one invocation's view of
//! both (`FsQuota`), held in the store. `fs_quota.rs` enforces them on the filesystem calls;
//! these types sit apart from it so the store (`state.rs`) holds them without depending on
//! the interface that implements its host traits on the store.

use crate::limits::LimitHit;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The quotas of one run (effective limits, see `limits.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScratchQuota {
    pub max_bytes: u64,
    pub max_files: u64,
    pub max_open: u64,
}

/// What a run has used of its scratch directory, across its invocations.
#[derive(Debug, Default)]
pub struct ScratchUsage {
    pub(crate) bytes: AtomicU64,
    pub(crate) files: AtomicU64,
}

impl ScratchUsage {
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn files(&self) -> u64 {
        self.files.load(Ordering::Relaxed)
    }
}

/// One invocation's view: the run's usage, the quotas, the descriptors open now, and the
/// quota hit (shared with the output streams it wraps).
pub(crate) struct FsQuota {
    pub(crate) usage: Arc<ScratchUsage>,
    pub(crate) quota: ScratchQuota,
    /// Table reps of the descriptors and directory listings this invocation opened (the
    /// preopened directory holds no descriptor of its own and is not counted).
    pub(crate) open: std::collections::HashSet<(bool, u32)>,
    pub(crate) hit: Arc<Mutex<Option<LimitHit>>>,
}

impl FsQuota {
    pub fn new(usage: Arc<ScratchUsage>, quota: ScratchQuota) -> Self {
        FsQuota {
            usage,
            quota,
            open: Default::default(),
            hit: Arc::default(),
        }
    }

    /// No scratch directory: nothing can be opened, nothing is counted.
    pub fn none() -> Self {
        FsQuota::new(
            Arc::default(),
            ScratchQuota {
                max_bytes: 0,
                max_files: 0,
                max_open: 0,
            },
        )
    }

    /// The quota this invocation hit, if any.
    pub fn hit(&self) -> Option<LimitHit> {
        self.hit.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
