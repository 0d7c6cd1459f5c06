//! Where everything lives under the home directory.

use std::path::{Path, PathBuf};

use crate::error::{PgEmbedError, io_err};

/// The file paths of one embedded cluster:
///
/// ```text
/// <home>/postgres.lock        held while ensuring or stopping
/// <home>/postgres/            0700, or 0711 when the server runs as another user
///     data/                   PGDATA, owned by the server user
///     password                superuser password, 0600, owned by the invoking user
///     port                    TCP port on 127.0.0.1
///     postgres.log            server log
/// ```
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) home: PathBuf,
    pub(crate) lock: PathBuf,
    pub(crate) pg_dir: PathBuf,
    pub(crate) data: PathBuf,
    /// initdb writes here and the result is renamed to `data` only once it is complete,
    /// so a crash mid-init never leaves a half-made cluster that looks usable.
    pub(crate) data_partial: PathBuf,
    pub(crate) password: PathBuf,
    pub(crate) port: PathBuf,
    pub(crate) log: PathBuf,
    /// initdb's `--pwfile`, readable by the server user; exists only during initdb.
    pub(crate) initdb_pwfile: PathBuf,
    /// Where `pg_ctl start` writes its own chatter, so it never holds a pipe of ours.
    pub(crate) pg_ctl_output: PathBuf,
}

impl Layout {
    /// Lays out `home`, made absolute against the current directory so paths handed to
    /// tools running in `/` still mean the same place.
    pub(crate) fn new(home: &Path) -> Result<Self, PgEmbedError> {
        let home = std::path::absolute(home).map_err(io_err("make absolute", home))?;
        let pg_dir = home.join("postgres");
        Ok(Layout {
            lock: home.join("postgres.lock"),
            data: pg_dir.join("data"),
            data_partial: pg_dir.join("data.partial"),
            password: pg_dir.join("password"),
            port: pg_dir.join("port"),
            log: pg_dir.join("postgres.log"),
            initdb_pwfile: pg_dir.join("initdb.pwfile"),
            pg_ctl_output: pg_dir.join("pg_ctl.out"),
            pg_dir,
            home,
        })
    }

    /// Whether initdb has completed here (only complete clusters are ever named `data`).
    pub(crate) fn is_initialized(&self) -> Result<bool, PgEmbedError> {
        let marker = self.data.join("PG_VERSION");
        marker.try_exists().map_err(io_err("inspect", &marker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_home_is_made_absolute() {
        let layout = Layout::new(Path::new("some/home")).expect("cwd exists");
        assert!(layout.home.is_absolute());
        assert!(layout.data.ends_with("some/home/postgres/data"));
        assert!(layout.lock.ends_with("some/home/postgres.lock"));
    }
}
