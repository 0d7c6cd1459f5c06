//! Turning component bytes into a compiled `Component`: Cranelift, or the artifact an
//! earlier process cached. Owned (`Compiler` holds clones, all cheap), so that
//! `SkillHost::load` runs it on tokio's blocking pool.

use crate::HostError;
use crate::engine::{chain, engine_config, write_private};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
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
