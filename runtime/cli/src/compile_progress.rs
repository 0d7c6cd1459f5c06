//! The host configuration for commands a person waits on: compiling a large component
//! (an interpreter: 10–20 s the first time) says so on stderr, and how long it took.

use crate::output::{Out, short};
use runproof_host::{CompileEvent, CompileProgress, HostConfig};
use std::sync::Arc;

pub fn host_config(home: Option<&std::path::PathBuf>, out: &Out) -> HostConfig {
    let mut config = crate::database::host_config(home);
    if !out.quiet {
        config.compile_progress = Some(CompileProgress(Arc::new(|e| match e {
            CompileEvent::Started { digest, size_bytes } => eprintln!(
                "compiling component {} ({}) with Cranelift; first use only, the result is cached ...",
                short(digest),
                runproof_host::limits::Bytes(size_bytes as u64)
            ),
            CompileEvent::Finished { digest, elapsed } => eprintln!(
                "compiled component {} in {:.1} s",
                short(digest),
                elapsed.as_secs_f64()
            ),
        })));
    }
    config
}
