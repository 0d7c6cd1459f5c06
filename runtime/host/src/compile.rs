//! Turning component bytes into a compiled `Component`: Cranelift, or the artifact an
//! earlier process cached. Owned (`Compiler` holds clones, all cheap), so that
//! `SkillHost::load` runs it on tokio's blocking pool.

use crate::engine_config::engine_config;
use crate::error::{HostError, chain};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use wasmtime::Engine;
use wasmtime::component::Component;

pub(crate) struct Compiler {
    pub engine: Engine,
    pub cache_dir: Option<PathBuf>,
    pub progress: Option<crate::progress::CompileProgress>,
    /// Whether `engine` uses the pooling allocator (see `compile_error`).
    pub pooled: bool,
}

impl Compiler {
    /// Compiles `wasm`, or loads the artifact an earlier process compiled from the same bytes
    /// with a compatible engine.
    pub(crate) fn compile(&self, wasm: &[u8], digest: &str) -> Result<Component, HostError> {
        let Some(dir) = &self.cache_dir else {
            return self.compile_reporting(wasm, digest);
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        let path = dir.join(format!("{digest}-{:016x}.cwasm", h.finish()));
        if path.is_file() {
            // SAFETY: deserializing runs no wasm validation, so the file must be one this
            // runtime wrote. It lives under RUNPROOF_HOME, written 0600 by us, next to the
            // database password; whoever can replace it can already replace those. wasmtime
            // still rejects an artifact from another engine version or configuration, and
            // any failure falls back to compiling from the original bytes.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unusable compiled component: {e}")
                }
            }
        }
        let component = self.compile_reporting(wasm, digest)?;
        if let Err(e) = component
            .serialize()
            .map_err(|e| e.to_string())
            .and_then(|bytes| write_private(&path, &bytes))
        {
            // A cache that cannot be written costs time, not correctness.
            tracing::warn!(path = %path.display(), "cannot cache compiled component: {e}");
        }
        Ok(component)
    }

    /// Compiles with Cranelift, telling `compile_progress` when the component is large.
    fn compile_reporting(&self, wasm: &[u8], digest: &str) -> Result<Component, HostError> {
        use crate::progress::{CompileEvent, REPORT_ABOVE_BYTES};
        let progress = self
            .progress
            .as_ref()
            .filter(|_| wasm.len() > REPORT_ABOVE_BYTES);
        let started = std::time::Instant::now();
        if let Some(p) = progress {
            (p.0)(CompileEvent::Started {
                digest,
                size_bytes: wasm.len(),
            });
        }
        let component =
            Component::new(&self.engine, wasm).map_err(|e| self.compile_error(wasm, &e))?;
        if let Some(p) = progress {
            (p.0)(CompileEvent::Finished {
                digest,
                elapsed: started.elapsed(),
            });
        }
        Ok(component)
    }

    /// Why `wasm` did not compile. The pooling allocator refuses a component whose shape
    /// exceeds its per-component limits while compiling, with an untyped error; to tell that
    /// apart from a broken component without reading the error's text, the bytes are
    /// compiled once more without the pool (only on this failure path): if that works, the
    /// pool is what refused it.
    fn compile_error(&self, wasm: &[u8], e: &wasmtime::Error) -> HostError {
        if self.pooled
            && let Ok(unpooled) = Engine::new(&engine_config(false))
            && Component::new(&unpooled, wasm).is_ok()
        {
            return HostError::PoolLimit { detail: chain(e) };
        }
        HostError::InvalidComponent(chain(e))
    }
}

/// Writes atomically with mode 0600: into a temp file of its own (named after the target,
/// the process and a per-process counter, and created exclusively, so two loads in one
/// process or in two processes never share one), then renamed over the target. A reader
/// sees the old artifact or the new one, never a mix or another component's.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().ok_or("cache path has no parent")?;
    let name = path
        .file_name()
        .ok_or("cache path has no file name")?
        .to_string_lossy();
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .and_then(|_| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::write_private;

    /// Two components cached at once in one process never share a temp file: each path ends
    /// up holding its own bytes, and no temp file is left behind.
    #[test]
    fn concurrent_cache_writes_never_mix_artifacts() {
        let dir = std::env::temp_dir().join(format!("runproof-cache-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let writers: Vec<_> = (0..8u8)
            .map(|i| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    let path = dir.join(format!("component-{}.cwasm", i % 2));
                    let bytes = vec![i % 2; 1 << 20];
                    for _ in 0..20 {
                        write_private(&path, &bytes).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        for i in 0..2u8 {
            let got = std::fs::read(dir.join(format!("component-{i}.cwasm"))).unwrap();
            assert!(got.len() == 1 << 20 && got.iter().all(|b| *b == i));
        }
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
