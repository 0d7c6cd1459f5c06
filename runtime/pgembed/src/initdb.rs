//! Creating the cluster: initdb, the `runproof` database, a password and a port.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::process::Stdio;

use crate::binaries::PgBinaries;
use crate::error::{PgEmbedError, io_err};
use crate::layout::Layout;
use crate::privileges::ServerUser;
use crate::state_files::{free_port, new_password, sync_parent, write_atomic};
use crate::tools::{failure, run, server_command};
use crate::{DATABASE, SUPERUSER};

/// Creates a complete cluster at `layout.data`, with a fresh password and port saved.
///
/// Everything is built in `data.partial` and renamed into place last, so an interrupted
/// init is simply redone next time instead of leaving a cluster without its database.
pub(crate) fn create(
    layout: &Layout,
    bins: &PgBinaries,
    user: &ServerUser,
) -> Result<(), PgEmbedError> {
    let partial = &layout.data_partial;
    if partial.exists() {
        fs::remove_dir_all(partial).map_err(io_err("remove the unfinished", partial))?;
    }
    // initdb would create it, but as the server user it may not write into our
    // directory; so we make it and hand it over. PostgreSQL insists on 0700.
    DirBuilder::new()
        .mode(0o700)
        .create(partial)
        .map_err(io_err("create", partial))?;
    user.give(partial)?;

    let password = new_password();
    write_atomic(&layout.password, &format!("{password}\n"), 0o600)?;

    run_initdb(layout, bins, user, &password)?;
    create_database(layout, bins, user)?;

    fs::rename(partial, &layout.data).map_err(io_err("move the new cluster to", &layout.data))?;
    sync_parent(&layout.data)?;

    write_atomic(&layout.port, &format!("{}\n", free_port()?), 0o644)
}

fn run_initdb(
    layout: &Layout,
    bins: &PgBinaries,
    user: &ServerUser,
    password: &str,
) -> Result<(), PgEmbedError> {
    let pwfile = PwFile::write(&layout.initdb_pwfile, password, user)?;
    let mut cmd = server_command(&bins.initdb(), user);
    cmd.arg("-D")
        .arg(&layout.data_partial)
        .args([
            "-U",
            SUPERUSER,
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
        ])
        .arg(format!("--pwfile={}", pwfile.path().display()));
    run(cmd, "initdb")?;
    Ok(())
}

/// Creates the `runproof` database in single-user mode: no server, no port, no network,
/// so the cluster is complete before it is ever started. `exit_on_error` turns a failed
/// statement into a non-zero exit instead of a message on an otherwise happy run.
fn create_database(
    layout: &Layout,
    bins: &PgBinaries,
    user: &ServerUser,
) -> Result<(), PgEmbedError> {
    let mut cmd = server_command(&bins.postgres(), user);
    cmd.args(["--single", "-D"])
        .arg(&layout.data_partial)
        .args(["-c", "exit_on_error=true", "template1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = bins.postgres();
    let mut child = cmd.spawn().map_err(io_err("run", &program))?;
    if let Some(mut stdin) = child.stdin.take() {
        // Dropping stdin afterwards sends EOF, which ends the session.
        stdin
            .write_all(format!("CREATE DATABASE {DATABASE};\n").as_bytes())
            .map_err(io_err("write to", &program))?;
    }
    let output = child.wait_with_output().map_err(io_err("run", &program))?;
    if output.status.success() {
        return Ok(());
    }
    Err(failure("postgres --single (CREATE DATABASE)", &output))
}

/// initdb's `--pwfile`: readable only by the server user, and removed however initdb ends.
struct PwFile<'a> {
    path: &'a Path,
}

impl<'a> PwFile<'a> {
    fn write(path: &'a Path, password: &str, user: &ServerUser) -> Result<Self, PgEmbedError> {
        let _ = fs::remove_file(path);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io_err("create", path))?;
        let pwfile = PwFile { path };
        file.write_all(format!("{password}\n").as_bytes())
            .map_err(io_err("write", path))?;
        user.give(path)?;
        Ok(pwfile)
    }

    fn path(&self) -> &Path {
        self.path
    }
}

impl Drop for PwFile<'_> {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.path);
    }
}
