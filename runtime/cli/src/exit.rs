//! The process exit codes of the commands (the table is in `main.rs`'s header), one place
//! for every command that ends with one: `run`, `invoke` and the queue commands end with
//! the run's, `proof`, `verify` and `replay` with the proof's or the replay's. 141, stdout
//! closed, is `output.rs`'s own.

use runproof_proof::RunStatus;

/// Exit code of a run that ended `failed` (it still printed its run_id and status).
pub const EXIT_RUN_FAILED: i32 = 3;

/// The exit code of a command that ran a run to `status`: 0 only for `succeeded`.
pub fn exit_for(status: RunStatus) -> i32 {
    if status == RunStatus::Succeeded {
        0
    } else {
        EXIT_RUN_FAILED
    }
}

/// Exit code when the proof is anything but VERIFIED.
pub const EXIT_NOT_VERIFIED: i32 = 4;

/// Exit code when the replayed code and the trace disagree.
pub const EXIT_DIVERGED: i32 = 5;

/// Exit code after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Exit code after SIGTERM (128 + 15).
pub const EXIT_TERMINATED: i32 = 143;
