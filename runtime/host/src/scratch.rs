//! The per-run scratch directory an agent may grant (`--scratch-dir`): created empty and
//! private when the run starts, preopened into each invocation as `/scratch`, removed with
//! everything in it when the run ends (when the [`ScratchDir`] is dropped, so also when the
//! run ends by an error).

use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
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
        Ok(ScratchDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), "cannot remove the run's scratch directory: {e}");
        }
    }
}
