//! Telling a person that a large component is being compiled. Cranelift needs 10–20 s for
//! an interpreter component (CPython, SpiderMonkey: 12–18 MB) the first time a host sees
//! it; without a line saying so, `skill add` or a run looks hung.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Components smaller than this compile in well under a second: no progress for them.
pub const REPORT_ABOVE_BYTES: usize = 1 << 20;

/// What is reported about one compilation.
#[derive(Debug, Clone, Copy)]
pub enum CompileEvent<'a> {
    Started { digest: &'a str, size_bytes: usize },
    Finished { digest: &'a str, elapsed: Duration },
}

/// Called around each compilation of a component over [`REPORT_ABOVE_BYTES`] that is not
/// in the compiled-component cache (memory or disk).
#[derive(Clone)]
pub struct CompileProgress(pub Arc<dyn Fn(CompileEvent<'_>) + Send + Sync>);

impl fmt::Debug for CompileProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CompileProgress(..)")
    }
}
