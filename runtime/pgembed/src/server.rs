//! Starting, stopping and inspecting the server process with pg_ctl.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use crate::binaries::PgBinaries;
use crate::error::{PgEmbedError, io_err, tail_lines};
use crate::layout::Layout;
use crate::privileges::ServerUser;
use crate::state_files::{free_port, port_is_free, read_port, require_port, write_atomic};
use crate::tools::{TAIL_LINES, failure, run, server_command};

/// How long pg_ctl waits for the server to come up or go down, and how long we wait for
/// a server someone else started to become ready. Crash recovery after an unclean
/// shutdown can take a while; a healthy start takes well under a second.
const WAIT_SECS: u64 = 60;

/// Tests and busy runners open many connections at once; the default 100 is too few.
const MAX_CONNECTIONS: u32 = 200;

/// What `pg_ctl status` and `postmaster.pid` say about the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerStatus {
    Stopped,
    Running(PidFile),
}

/// The parts of `postmaster.pid` we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PidFile {
    /// The port the server listens on, if the file said.
    pub(crate) port: Option<u16>,
    /// Whether the server has finished starting and accepts connections.
    pub(crate) ready: bool,
}

/// Asks pg_ctl whether the server is running (it checks that the postmaster.pid process
/// is alive, not just that the file exists), then reads postmaster.pid for the details.
pub(crate) fn status(
    layout: &Layout,
    bins: &PgBinaries,
    user: &ServerUser,
) -> Result<ServerStatus, PgEmbedError> {
    let mut cmd = server_command(&bins.pg_ctl(), user);
    cmd.arg("status")
        .arg("-D")
        .arg(&layout.data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = cmd.output().map_err(io_err("run", &bins.pg_ctl()))?;
    match output.status.code() {
        Some(0) => {
            // The server may be exiting between the two looks; then it is "not ready" and
            // the caller's polling sees it stopped on the next round.
            let pid = fs::read_to_string(layout.data.join("postmaster.pid")).unwrap_or_default();
            Ok(ServerStatus::Running(parse_pid_file(&pid)))
        }
        Some(3) => Ok(ServerStatus::Stopped),
        _ => Err(failure("pg_ctl status", &output)),
    }
}

/// Returns the port of a ready server, starting it if it is stopped and waiting for it if
/// someone else is starting it.
pub(crate) fn ensure_started(
    layout: &Layout,
    bins: &PgBinaries,
    user: &ServerUser,
) -> Result<u16, PgEmbedError> {
    let deadline = Instant::now() + Duration::from_secs(WAIT_SECS);
    loop {
        match status(layout, bins, user)? {
            ServerStatus::Stopped => return start(layout, bins, user),
            ServerStatus::Running(PidFile { ready: true, port }) => {
                // A ready server has always written its port; the saved one is a fallback
                // for a pid file we could not read.
                let port = match port {
                    Some(port) => port,
                    None => require_port(&layout.port)?,
                };
                // A postmaster killed a moment ago can still look alive (a zombie not yet
                // reaped) with a "ready" pid file; only an accepted connection is proof.
                if accepts_connections(port) {
                    let saved = read_port(&layout.port);
                    // Someone restarted it by hand on another port: the running server is
                    // the truth, and url() must agree with it.
                    if saved != Some(port) {
                        write_atomic(&layout.port, &format!("{port}\n"), 0o644)?;
                    }
                    return Ok(port);
                }
                wait_or_give_up(layout, deadline)?;
            }
            ServerStatus::Running(_) => wait_or_give_up(layout, deadline)?,
        }
    }
}

/// Sleeps a little before the next look, or fails if the server has had long enough.
fn wait_or_give_up(layout: &Layout, deadline: Instant) -> Result<(), PgEmbedError> {
    if Instant::now() >= deadline {
        return Err(PgEmbedError::NotReady {
            data_dir: layout.data.clone(),
            waited_secs: WAIT_SECS,
            log_file: layout.log.clone(),
        });
    }
    thread::sleep(Duration::from_millis(100));
    Ok(())
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`. Closing without a
/// startup packet is not logged by the server, so this leaves no noise behind.
fn accepts_connections(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// Stops the server with a fast shutdown (open sessions are cut, committed work is safe),
/// waiting until it is down. A stopped server is left alone.
pub(crate) fn stop(
    layout: &Layout,
    bins: &PgBinaries,
    user: &ServerUser,
) -> Result<(), PgEmbedError> {
    if status(layout, bins, user)? == ServerStatus::Stopped {
        return Ok(());
    }
    let mut cmd = server_command(&bins.pg_ctl(), user);
    cmd.arg("-D").arg(&layout.data).args([
        "-m",
        "fast",
        "-w",
        "-t",
        &WAIT_SECS.to_string(),
        "stop",
    ]);
    match run(cmd, "pg_ctl stop") {
        Ok(_) => Ok(()),
        // It went away by itself between our two looks: that is what we wanted.
        Err(_) if status(layout, bins, user)? == ServerStatus::Stopped => Ok(()),
        Err(e) => Err(e),
    }
}

/// Starts the stopped server on the saved port, moving to a new port if that one is
/// taken (checked beforehand, and once more if the server itself fails to bind).
fn start(layout: &Layout, bins: &PgBinaries, user: &ServerUser) -> Result<u16, PgEmbedError> {
    prepare_log(&layout.log, user)?;
    let port = match read_port(&layout.port) {
        Some(port) if port_is_free(port) => port,
        _ => save_new_port(layout)?,
    };
    match start_once(layout, bins, user, port) {
        Ok(()) => Ok(port),
        // Someone took the port between our check and the server's bind.
        Err(Attempt {
            port_taken: true, ..
        }) => {
            let port = save_new_port(layout)?;
            start_once(layout, bins, user, port).map_err(|a| a.error)?;
            Ok(port)
        }
        Err(attempt) => Err(attempt.error),
    }
}

/// A failed `pg_ctl start`.
struct Attempt {
    error: PgEmbedError,
    /// The log says the port was in use, so another port may well work.
    port_taken: bool,
}

fn start_once(
    layout: &Layout,
    bins: &PgBinaries,
    user: &ServerUser,
    port: u16,
) -> Result<(), Attempt> {
    let fail = |error| Attempt {
        error,
        port_taken: false,
    };
    let log_start = fs::metadata(&layout.log).map(|m| m.len()).unwrap_or(0);

    // pg_ctl's stdout/stderr go to a file, never to pipes of ours or our caller's: the
    // postmaster it forks must not keep a pipe open that someone is reading to EOF.
    let out_path = &layout.pg_ctl_output;
    let out = File::create(out_path)
        .map_err(io_err("create", out_path))
        .map_err(fail)?;
    let err = out
        .try_clone()
        .map_err(io_err("duplicate", out_path))
        .map_err(fail)?;

    let mut cmd = server_command(&bins.pg_ctl(), user);
    cmd.arg("-D")
        .arg(&layout.data)
        .arg("-l")
        .arg(&layout.log)
        .arg("-o")
        .arg(server_options(port))
        .args(["-w", "-t", &WAIT_SECS.to_string(), "start"])
        .stdout(out)
        .stderr(err);
    let status = cmd
        .status()
        .map_err(io_err("run", &bins.pg_ctl()))
        .map_err(fail)?;
    let pg_ctl_said = fs::read_to_string(out_path).unwrap_or_default();
    let _ = fs::remove_file(out_path);
    if status.success() {
        return Ok(());
    }

    let log_said = read_from(&layout.log, log_start);
    let port_taken = log_said.contains("Address already in use")
        || log_said.contains("could not create any TCP/IP sockets");
    let detail = [
        tail_lines(&pg_ctl_said, 2),
        tail_lines(&log_said, TAIL_LINES),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(" | ");
    Err(Attempt {
        error: PgEmbedError::StartFailed {
            port,
            detail,
            log_file: layout.log.clone(),
        },
        port_taken,
    })
}

/// Server settings, passed on the command line rather than written to postgresql.conf
/// so every start applies this crate's current choices.
///
/// - TCP on 127.0.0.1 only: the cluster is private to this machine.
/// - No unix sockets: the default directory (/var/run/postgresql) may be missing or not
///   writable for us, and a socket in the data directory can exceed the 107-byte socket
///   path limit for deep homes. pg_ctl -w watches postmaster.pid, so it needs no socket.
/// - fsync and synchronous_commit keep their (safe) defaults: this is a proof store.
///
/// pg_ctl hands this string to /bin/sh, hence the quoted empty value; nothing in it comes
/// from outside this crate except the port number.
fn server_options(port: u16) -> String {
    format!(
        "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' -c max_connections={MAX_CONNECTIONS}"
    )
}

/// Makes sure the log exists and the server user can append to it: pg_ctl opens it as
/// that user, inside a directory that user cannot create files in.
fn prepare_log(log: &Path, user: &ServerUser) -> Result<(), PgEmbedError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(log)
        .map_err(io_err("create", log))?;
    user.give(log)
}

fn save_new_port(layout: &Layout) -> Result<u16, PgEmbedError> {
    let port = free_port()?;
    write_atomic(&layout.port, &format!("{port}\n"), 0o644)?;
    Ok(port)
}

/// What was appended to `path` after byte `offset` (at most the last 64 KiB of it).
fn read_from(path: &Path, offset: u64) -> String {
    const MAX: u64 = 64 * 1024;
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    // A log shorter than before was rotated or truncated: all of it is new.
    let offset = if offset > len { 0 } else { offset };
    let start = offset.max(len.saturating_sub(MAX));
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Reads postmaster.pid: line 4 is the port, line 8 the status ("starting", "ready",
/// "stopping", ...), padded with spaces.
fn parse_pid_file(text: &str) -> PidFile {
    let lines: Vec<&str> = text.lines().collect();
    PidFile {
        port: lines.get(3).and_then(|l| l.trim().parse().ok()),
        ready: lines.get(7).is_some_and(|l| l.trim() == "ready"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_gives_port_and_readiness() {
        // A real PostgreSQL 15 postmaster.pid (empty socket directory line included).
        let ready =
            "6023\n/tmp/pgx/data\n1795424951\n54999\n\n127.0.0.1\n 10010993         6\nready   \n";
        assert_eq!(
            parse_pid_file(ready),
            PidFile {
                port: Some(54999),
                ready: true
            }
        );

        let starting = ready.replace("ready   ", "starting");
        assert_eq!(
            parse_pid_file(&starting),
            PidFile {
                port: Some(54999),
                ready: false
            }
        );

        // Written before the server has got that far.
        assert_eq!(
            parse_pid_file("6023\n/tmp/pgx/data\n"),
            PidFile {
                port: None,
                ready: false
            }
        );
    }

    #[test]
    fn options_listen_on_loopback_only_and_keep_fsync_default() {
        let opts = server_options(5433);
        assert!(opts.contains("listen_addresses=127.0.0.1 "));
        assert!(opts.contains("-p 5433"));
        assert!(opts.contains("max_connections=200"));
        assert!(!opts.contains("fsync"));
    }

    #[test]
    fn read_from_returns_only_the_new_part() {
        let path = std::env::temp_dir().join(format!("pgembed-log-{}", std::process::id()));
        fs::write(&path, "old line\nnew line\n").expect("write");
        assert_eq!(read_from(&path, 9), "new line\n");
        // Truncated since: everything counts as new.
        assert_eq!(read_from(&path, 1000), "old line\nnew line\n");
        fs::remove_file(&path).expect("cleanup");
    }
}
