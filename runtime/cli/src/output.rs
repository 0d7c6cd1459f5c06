//! Printing: JSON on stdout for `--json`, calm text otherwise; progress on stderr.

use serde::Serialize;

pub struct Out {
    pub json: bool,
    pub quiet: bool,
}

impl Out {
    /// Prints `value` as JSON, or runs `text` to print it for people.
    pub fn emit<T: Serialize>(&self, value: &T, text: impl FnOnce()) {
        if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(s) => println!("{s}"),
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
