//! Serialising cluster management across processes: many CLI invocations (and test
//! binaries) may ensure the same cluster at once, and exactly one of them must run
//! initdb or pg_ctl start.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::error::{PgEmbedError, io_err};

/// An advisory lock on the lock file, released when dropped (the file is closed).
///
/// The lock is an flock on our own open file description. std opens files close-on-exec,
/// so the long-lived server we spawn never inherits it: the lock ends with our process,
/// even if it crashes, rather than living on in the daemon.
#[derive(Debug)]
pub(crate) struct ClusterLock {
    _file: File,
}

impl ClusterLock {
    /// Blocks until this process alone may change the cluster.
    pub(crate) fn exclusive(path: &Path) -> Result<Self, PgEmbedError> {
        let file = open(path)?;
        file.lock().map_err(io_err("lock", path))?;
        Ok(ClusterLock { _file: file })
    }

    /// Blocks until nobody is changing the cluster, so a reader sees a settled state.
    pub(crate) fn shared(path: &Path) -> Result<Self, PgEmbedError> {
        let file = open(path)?;
        file.lock_shared().map_err(io_err("lock", path))?;
        Ok(ClusterLock { _file: file })
    }
}

fn open(path: &Path) -> Result<File, PgEmbedError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err("open the lock file", path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::TryLockError;

    #[test]
    fn exclusive_lock_excludes_other_openers_until_dropped() {
        let path = std::env::temp_dir().join(format!("pgembed-lock-{}", std::process::id()));
        let held = ClusterLock::exclusive(&path).expect("lock");

        // A second open file description, as another process would have.
        let other = open(&path).expect("open");
        assert!(matches!(
            other.try_lock_shared(),
            Err(TryLockError::WouldBlock)
        ));

        drop(held);
        other.try_lock().expect("free once the holder is gone");
        std::fs::remove_file(&path).expect("cleanup");
    }
}
