//! Running PostgreSQL's own tools with a predictable environment.

use std::env;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::error::{PgEmbedError, io_err, tail_lines};
use crate::privileges::ServerUser;

/// How many lines of a tool's output an error quotes.
pub(crate) const TAIL_LINES: usize = 6;

/// A command for a server-side tool, run as the server user.
///
/// - It runs in `/`: our working directory may be one the server user cannot enter,
///   and a long-lived server should not pin a directory someone may want to unmount.
/// - Inherited `PG*` variables (PGDATA, PGPORT, PGHOST, ...) are removed so the caller's
///   client settings cannot redirect what we manage; everything is passed explicitly.
/// - `LC_ALL=C` keeps messages in English, so failures read the same in every report.
/// - stdin is /dev/null: none of these tools should ever wait for a prompt.
pub(crate) fn server_command(program: &Path, user: &ServerUser) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir("/").env("LC_ALL", "C").stdin(Stdio::null());
    for (key, _) in env::vars_os() {
        if key.as_encoded_bytes().starts_with(b"PG") {
            cmd.env_remove(key);
        }
    }
    user.apply(&mut cmd);
    cmd
}

/// Runs `cmd` to completion with its output captured, failing with the tail of that
/// output if it exits unsuccessfully. Only for tools that do not leave a daemon behind
/// holding our pipes.
pub(crate) fn run(mut cmd: Command, label: &str) -> Result<Output, PgEmbedError> {
    let output = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(io_err("run", Path::new(cmd.get_program())))?;
    if output.status.success() {
        return Ok(output);
    }
    Err(failure(label, &output))
}

/// A [`PgEmbedError::CommandFailed`] quoting what the tool said, stderr first since that
/// is where PostgreSQL tools explain themselves.
pub(crate) fn failure(label: &str, output: &Output) -> PgEmbedError {
    let stderr = tail_lines(&String::from_utf8_lossy(&output.stderr), TAIL_LINES);
    let detail = if stderr.is_empty() {
        tail_lines(&String::from_utf8_lossy(&output.stdout), TAIL_LINES)
    } else {
        stderr
    };
    PgEmbedError::CommandFailed {
        command: label.to_owned(),
        status: output.status.to_string(),
        detail,
    }
}
