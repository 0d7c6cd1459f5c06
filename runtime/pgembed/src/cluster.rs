//! The public face: ensure, inspect and stop one cluster under a home directory.

use std::fmt;
use std::fs::{self, DirBuilder, Permissions};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::PathBuf;

use crate::binaries::PgBinaries;
use crate::error::{PgEmbedError, io_err};
use crate::layout::Layout;
use crate::lock::ClusterLock;
use crate::privileges::ServerUser;
use crate::state_files::{read_password, require_port};
use crate::{DATABASE, SUPERUSER, initdb, server};

/// A private PostgreSQL cluster kept under a home directory (`RUNPROOF_HOME`), run from
/// the PostgreSQL binaries installed on the machine.
///
/// The cluster is created on first use and started when it is not running; the server
/// keeps running after this process exits, so later invocations reuse it. Every
/// state-changing call holds an exclusive lock on `<home>/postgres.lock`, so concurrent
/// processes never initialise or start it twice.
///
/// When running as root, the server and its tools run as the `postgres` OS user, which
/// must be able to traverse every directory down to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedPostgres {
    home: PathBuf,
}

/// How to reach a running cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    /// `postgres://runproof:<password>@127.0.0.1:<port>/runproof`.
    pub url: String,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    /// The data directory (PGDATA).
    pub data_dir: PathBuf,
    /// The server log, for when something goes wrong.
    pub log_file: PathBuf,
}

// The URL holds the superuser password; keep it out of debug logs.
impl fmt::Debug for ClusterInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterInfo")
            .field(
                "url",
                &format_args!(
                    "postgres://{SUPERUSER}:***@127.0.0.1:{}/{DATABASE}",
                    self.port
                ),
            )
            .field("port", &self.port)
            .field("data_dir", &self.data_dir)
            .field("log_file", &self.log_file)
            .finish()
    }
}

/// What state the cluster under a home directory is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    /// No cluster has been created there yet.
    NotInitialized,
    /// The cluster exists but no server is running on it.
    Stopped,
    /// A server is running on it.
    Running {
        /// The TCP port it listens on at 127.0.0.1.
        port: u16,
    },
}

impl EmbeddedPostgres {
    /// Manages the cluster under `home` (typically `RUNPROOF_HOME` or [`crate::default_home`]).
    /// Nothing is touched until a method is called.
    pub fn new(home: impl Into<PathBuf>) -> Self {
        EmbeddedPostgres { home: home.into() }
    }

    /// Makes sure the cluster exists and its server is running and ready, and says how to
    /// reach it: creates it (initdb, database `runproof`) on first use, starts it if it is
    /// stopped, and otherwise just reports on it. Safe to call concurrently from many
    /// processes; only one of them does any work.
    pub fn ensure_running(&self) -> Result<ClusterInfo, PgEmbedError> {
        let layout = Layout::new(&self.home)?;
        let bins = PgBinaries::discover()?;
        let user = ServerUser::detect()?;

        user.check_reachable(&layout.home)?;
        create_home(&layout, &user)?;
        let _lock = ClusterLock::exclusive(&layout.lock)?;
        create_pg_dir(&layout, &user)?;
        user.check_reachable(&layout.pg_dir)?;

        if !layout.is_initialized()? {
            initdb::create(&layout, &bins, &user)?;
        }
        user.check_owns(&layout.data)?;
        let port = server::ensure_started(&layout, &bins, &user)?;
        info(&layout, port)
    }

    /// Reports whether the cluster exists and whether its server is running. Creates
    /// nothing but the lock file, and waits for any ensure/stop in progress to finish.
    pub fn state(&self) -> Result<ClusterState, PgEmbedError> {
        let layout = Layout::new(&self.home)?;
        if !layout
            .home
            .try_exists()
            .map_err(io_err("inspect", &layout.home))?
        {
            return Ok(ClusterState::NotInitialized);
        }
        let _lock = ClusterLock::shared(&layout.lock)?;
        if !layout.is_initialized()? {
            return Ok(ClusterState::NotInitialized);
        }
        let bins = PgBinaries::discover()?;
        let user = ServerUser::detect()?;
        user.check_reachable(&layout.pg_dir)?;
        match server::status(&layout, &bins, &user)? {
            server::ServerStatus::Stopped => Ok(ClusterState::Stopped),
            server::ServerStatus::Running(pid) => {
                let port = match pid.port {
                    Some(port) => port,
                    None => require_port(&layout.port)?,
                };
                Ok(ClusterState::Running { port })
            }
        }
    }

    /// Stops the server (fast shutdown: sessions are disconnected, committed data is safe)
    /// and waits until it is down. Does nothing if there is no cluster or it is stopped.
    pub fn stop(&self) -> Result<(), PgEmbedError> {
        let layout = Layout::new(&self.home)?;
        if !layout
            .home
            .try_exists()
            .map_err(io_err("inspect", &layout.home))?
        {
            return Ok(());
        }
        let _lock = ClusterLock::exclusive(&layout.lock)?;
        if !layout.is_initialized()? {
            return Ok(());
        }
        let bins = PgBinaries::discover()?;
        let user = ServerUser::detect()?;
        user.check_reachable(&layout.pg_dir)?;
        server::stop(&layout, &bins, &user)
    }

    /// The connection URL from the saved password and port, without starting anything
    /// (the server may be stopped). Takes no lock: both files are replaced atomically.
    pub fn url(&self) -> Result<String, PgEmbedError> {
        let layout = Layout::new(&self.home)?;
        if !layout.is_initialized()? {
            return Err(PgEmbedError::NotInitialized { home: layout.home });
        }
        let password = read_password(&layout.password, &layout.pg_dir)?;
        let port = require_port(&layout.port)?;
        Ok(format_url(&password, port))
    }
}

fn info(layout: &Layout, port: u16) -> Result<ClusterInfo, PgEmbedError> {
    let password = read_password(&layout.password, &layout.pg_dir)?;
    Ok(ClusterInfo {
        url: format_url(&password, port),
        port,
        data_dir: layout.data.clone(),
        log_file: layout.log.clone(),
    })
}

/// The password is hex, so it needs no percent-encoding.
fn format_url(password: &str, port: u16) -> String {
    format!("postgres://{SUPERUSER}:{password}@127.0.0.1:{port}/{DATABASE}")
}

/// Creates the home directory if needed. When the server runs as another user it must be
/// able to pass through, so a home we create then is 0755 whatever the umask.
fn create_home(layout: &Layout, user: &ServerUser) -> Result<(), PgEmbedError> {
    let home = &layout.home;
    if home.try_exists().map_err(io_err("inspect", home))? {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(home)
        .map_err(io_err("create", home))?;
    if user.is_switched() {
        fs::set_permissions(home, Permissions::from_mode(0o755))
            .map_err(io_err("set permissions of", home))?;
    }
    Ok(())
}

/// Creates `<home>/postgres`: private to us (0700), or, when the server runs as another
/// user, enterable but not listable by others (0711) so the server can reach its data
/// directory and log while our password file stays ours.
fn create_pg_dir(layout: &Layout, user: &ServerUser) -> Result<(), PgEmbedError> {
    let dir = &layout.pg_dir;
    if dir.try_exists().map_err(io_err("inspect", dir))? {
        return Ok(());
    }
    let mode = if user.is_switched() { 0o711 } else { 0o700 };
    DirBuilder::new()
        .mode(mode)
        .create(dir)
        .map_err(io_err("create", dir))?;
    // DirBuilder's mode is filtered through the umask; this one is not.
    fs::set_permissions(dir, Permissions::from_mode(mode))
        .map_err(io_err("set permissions of", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_has_the_documented_shape() {
        assert_eq!(
            format_url("ab12", 5433),
            "postgres://runproof:ab12@127.0.0.1:5433/runproof"
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let info = ClusterInfo {
            url: format_url("secretsecret", 5433),
            port: 5433,
            data_dir: "/d".into(),
            log_file: "/l".into(),
        };
        let shown = format!("{info:?}");
        assert!(!shown.contains("secretsecret"), "{shown}");
        assert!(shown.contains("5433"));
    }

    #[test]
    fn nothing_is_created_for_state_stop_or_url_on_a_missing_home() {
        let home = std::env::temp_dir().join(format!("pgembed-missing-{}", std::process::id()));
        let pg = EmbeddedPostgres::new(&home);
        assert_eq!(pg.state().expect("state"), ClusterState::NotInitialized);
        pg.stop().expect("stop is a no-op");
        assert!(matches!(pg.url(), Err(PgEmbedError::NotInitialized { .. })));
        assert!(!home.exists());
    }
}
