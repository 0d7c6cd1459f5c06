use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Everything that can go wrong managing the embedded cluster. Each message is one line and
/// ends with what the operator can do about it.
#[derive(Debug, Error)]
pub enum PgEmbedError {
    /// No directory with `initdb`, `pg_ctl` and `postgres` was found.
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found (looked in: {searched}): install PostgreSQL server binaries, e.g. `apt-get install postgresql`, or set RUNPROOF_PG_BIN to their directory"
    )]
    BinariesNotFound {
        /// The places that were looked at, for the operator to compare with their install.
        searched: String,
    },

    /// `RUNPROOF_PG_BIN` was set explicitly but does not hold the server binaries.
    #[error(
        "RUNPROOF_PG_BIN={} does not contain initdb, pg_ctl and postgres: point it at a PostgreSQL bin directory such as /usr/lib/postgresql/15/bin, or unset it",
        .dir.display()
    )]
    InvalidBinDir {
        /// The directory named by `RUNPROOF_PG_BIN`.
        dir: PathBuf,
    },

    /// Running as root, but there is no unprivileged account to run the server as.
    #[error(
        "running as root, but there is no `postgres` OS user to run the server as (PostgreSQL refuses to run as root): install PostgreSQL from your distribution's packages, which creates that user, or run as an ordinary user"
    )]
    NoPostgresUser,

    /// The server's OS user cannot traverse one of the directories leading to the cluster.
    #[error(
        "the `{user}` OS user cannot reach {}: set RUNPROOF_HOME to a directory it can traverse, such as /var/lib/runproof",
        .path.display()
    )]
    Unreachable {
        /// The OS user the server runs as.
        user: String,
        /// The first directory on the way that it may not enter.
        path: PathBuf,
    },

    /// The data directory belongs to someone other than the user the server would run as.
    #[error(
        "{} belongs to uid {owner}, but the server runs as `{user}` (uid {uid}): use the RUNPROOF_HOME created by that user, or `chown -R {user}` the data directory",
        .data_dir.display()
    )]
    WrongOwner {
        /// The data directory.
        data_dir: PathBuf,
        /// Its current owner.
        owner: u32,
        /// The OS user the server runs as.
        user: String,
        /// That user's uid.
        uid: u32,
    },

    /// `url()` was asked for before the cluster was ever created.
    #[error(
        "no PostgreSQL cluster has been created under {} yet: call ensure_running first (the runtime CLI does so when DATABASE_URL is unset)",
        .home.display()
    )]
    NotInitialized {
        /// The home directory that was looked at.
        home: PathBuf,
    },

    /// A file this crate writes holds something it could not have written.
    #[error(
        "{} is corrupt ({reason}): if the cluster is stopped, remove {} to let it be recreated",
        .path.display(), .remove.display()
    )]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
        /// What to remove to recover (for the password, the whole cluster).
        remove: PathBuf,
    },

    /// A PostgreSQL tool exited unsuccessfully.
    #[error("`{command}` failed ({status}): {detail}")]
    CommandFailed {
        /// The tool and the action, e.g. `initdb` or `pg_ctl stop`.
        command: String,
        /// How it exited.
        status: String,
        /// The last lines it printed, joined with " | ".
        detail: String,
    },

    /// `pg_ctl start` failed; the reason is in the server log.
    #[error("PostgreSQL did not start on 127.0.0.1:{port}: {detail} (full log: {})", .log_file.display())]
    StartFailed {
        /// The port it was asked to listen on.
        port: u16,
        /// The last lines of pg_ctl's output and of the server log, joined with " | ".
        detail: String,
        /// The server log, for the whole story.
        log_file: PathBuf,
    },

    /// A server started by someone else never reported it was ready.
    #[error(
        "PostgreSQL under {} is running but not accepting connections after {waited_secs}s (it may be recovering or shutting down): see {}",
        .data_dir.display(), .log_file.display()
    )]
    NotReady {
        /// The data directory.
        data_dir: PathBuf,
        /// How long we waited.
        waited_secs: u64,
        /// The server log.
        log_file: PathBuf,
    },

    /// A filesystem or process operation failed.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// What we were doing, as a verb phrase.
        action: &'static str,
        /// The file, directory or program involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// Wraps an [`io::Error`] with what we were doing and to which path.
pub(crate) fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> PgEmbedError {
    let path = path.to_path_buf();
    move |source| PgEmbedError::Io {
        action,
        path,
        source,
    }
}

/// The last `max` non-blank lines of `text`, trimmed and joined with " | ", so a tool's
/// complaint fits in a one-line error.
pub(crate) fn tail_lines(text: &str, max: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.len().saturating_sub(max);
    lines[start..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_non_blank_lines_on_one_line() {
        let text = "first\n\n  second  \nthird\n\nfourth\n";
        assert_eq!(tail_lines(text, 2), "third | fourth");
        assert_eq!(tail_lines(text, 10), "first | second | third | fourth");
        assert_eq!(tail_lines("", 3), "");
    }

    #[test]
    fn messages_are_one_line_and_say_what_to_do() {
        let e = PgEmbedError::Unreachable {
            user: "postgres".into(),
            path: "/root".into(),
        };
        let msg = e.to_string();
        assert!(!msg.contains('\n'));
        assert!(
            msg.contains("/root") && msg.contains("RUNPROOF_HOME"),
            "{msg}"
        );

        let msg = PgEmbedError::BinariesNotFound {
            searched: "PATH".into(),
        }
        .to_string();
        assert!(
            msg.contains("apt-get install postgresql") && msg.contains("RUNPROOF_PG_BIN"),
            "{msg}"
        );
    }
}
