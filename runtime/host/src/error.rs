//! The host's error, and the one-line form of a wasmtime error chain it carries. Apart from
//! `engine.rs` so that compilation (`compile.rs`), which the engine calls, reports with it
//! without reaching back into the engine.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum HostError {
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),
    #[error("not a RunProof skill component: {0}")]
    InvalidComponent(String),
    #[error("skill `describe` failed: {0}")]
    Describe(String),
    /// `describe` was stopped by the sandbox (a deadline, a limit, a trap). At `skill add`
    /// the component is refused; at run load it is a failed run, recorded (the component
    /// passed `skill add`, so what it does at run time is part of the run's proof).
    #[error("skill `describe` was stopped: {reason}")]
    DescribeAborted { digest: String, reason: String },
    /// The component does not fit the instance pool's per-component shape.
    #[error("the component exceeds a pool limit: {detail}; {fix}", fix = crate::pool::POOL_LIMIT_FIX)]
    PoolLimit { detail: String },
    /// `describe` answered, but with fields over the caps (`validate::check_info`).
    #[error("its describe() is refused: {0}")]
    DescribeRefused(String),
}

/// An error with its causes on one line.
pub(crate) fn chain(e: &wasmtime::Error) -> String {
    let mut parts: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    parts.dedup();
    parts
        .join(": ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
