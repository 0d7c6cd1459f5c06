//! Printing: JSON on stdout for `--json`, calm text otherwise; progress on stderr.
//!
//! Everything for stdout goes through [`outln!`] / [`out!`], never `println!`: `println!`
//! panics when the reader has gone (`runtime runs show … | head`), with a backtrace. Here a
//! closed pipe ends the process quietly with exit 141, what a shell reports for a command
//! ended by SIGPIPE (as git and ripgrep end). SIGPIPE itself stays ignored (Rust's
//! default): restoring it would also kill the process on a write to a closed socket.
//! Long-running commands (`serve`, `worker`) call [`stdout_best_effort`] first: their
//! stdout lines are informational, and a closed pipe must not stop runs in flight.

use serde::Serialize;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Exit code for "the reader of stdout went away" (128 + SIGPIPE).
pub const EXIT_BROKEN_PIPE: i32 = 141;

static BEST_EFFORT: AtomicBool = AtomicBool::new(false);

/// From now on a stdout write that fails is dropped instead of ending the process.
pub fn stdout_best_effort() {
    BEST_EFFORT.store(true, Ordering::Relaxed);
}

/// Writes to stdout (with a newline when `newline`); see the module comment for errors.
pub fn write_stdout(args: std::fmt::Arguments<'_>, newline: bool) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(args).and_then(|()| {
        if newline {
            stdout.write_all(b"\n")
        } else {
            stdout.flush()
        }
    });
    if let Err(e) = written {
        if BEST_EFFORT.load(Ordering::Relaxed) {
            return;
        }
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(EXIT_BROKEN_PIPE);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// `println!` for stdout that ends quietly on a closed pipe.
macro_rules! outln {
    () => {
        $crate::output::write_stdout(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*), true)
    };
}

/// `print!` for stdout that ends quietly on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*), false)
    };
}

pub struct Out {
    pub json: bool,
    pub quiet: bool,
}

impl Out {
    /// Prints `value` as JSON, or runs `text` to print it for people.
    pub fn emit<T: Serialize>(&self, value: &T, text: impl FnOnce()) {
        if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(s) => outln!("{s}"),
                Err(e) => eprintln!("error: cannot print JSON: {e}"),
            }
        } else {
            text();
        }
    }

    /// A progress line on stderr.
    pub fn progress(&self, line: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", line.as_ref());
        }
    }
}

/// Shortens a 64-hex digest for tables.
pub fn short(d: &str) -> &str {
    &d[..d.len().min(12)]
}
