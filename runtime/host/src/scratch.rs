//! The per-run scratch directory an agent may grant (`--scratch-dir`): created empty and
//! private when the run starts, preopened into each invocation as `/scratch`, removed with
//! everything in it when the run ends (when the [`ScratchDir`] is dropped, so also when the
//! run ends by an error).

use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
    /// What the run has used of its quotas, across its invocations (`fs_quota.rs`).
    usage: Arc<crate::scratch_quota::ScratchUsage>,
}

impl ScratchDir {
    /// Creates `root/<name>`, mode 0700. `name` must be a single path component (a run id).
    pub fn create(root: &Path, name: &str) -> std::io::Result<ScratchDir> {
        use std::os::unix::fs::DirBuilderExt;
        if name.is_empty() || name.contains(['/', '\0']) || name == "." || name == ".." {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad scratch name {name:?}"),
            ));
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)?;
        let path = root.join(name);
        // Not `recursive`: the directory must be new, never one left behind or planted.
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(ScratchDir {
            path,
            usage: Arc::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn usage(&self) -> &Arc<crate::scratch_quota::ScratchUsage> {
        &self.usage
    }
}

/// Descriptors the process should be able to open: the pool's concurrent invocations at
/// the descriptor ceiling, plus room for the runtime's own (database pools, trace writer,
/// HTTP connections, the compile cache).
pub const MIN_NOFILE: u64 =
    crate::pool::POOL_CONCURRENT_INSTANCES as u64 * crate::limits::CEILING_SCRATCH_MAX_OPEN + 1024;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (once per process), so skills' scratch
/// descriptors, bounded per invocation far below it, can never exhaust the runtime's own.
/// Returns the soft limit now in force.
pub fn raise_nofile_limit() -> u64 {
    static RAISED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *RAISED.get_or_init(|| {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct we pass; no other
        // memory is touched, and a failure leaves the limits as they were.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return 0;
            }
            if lim.rlim_cur < lim.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    lim.rlim_cur = lim.rlim_max;
                }
            }
        }
        if lim.rlim_cur < MIN_NOFILE {
            // Not a warning: every command would print it on such a machine, and the quota
            // is cut to fit (`fit_open_quota`), so nothing is at risk.
            tracing::debug!(
                soft = lim.rlim_cur,
                "the descriptor limit (ulimit -n) is below {MIN_NOFILE}: scratch descriptor quotas are cut to fit"
            );
        }
        lim.rlim_cur
    })
}

/// The open-descriptor quota that fits the process's limit: `granted`, cut so every
/// concurrent invocation at that quota still leaves the runtime 1024 descriptors.
pub fn fit_open_quota(granted: u64, nofile: u64) -> u64 {
    let spare = nofile.saturating_sub(1024) / u64::from(crate::pool::POOL_CONCURRENT_INSTANCES);
    granted.min(spare.max(4))
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), "cannot remove the run's scratch directory: {e}");
        }
    }
}
