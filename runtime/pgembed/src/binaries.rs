//! Finding the PostgreSQL server binaries installed on the machine.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::PgEmbedError;

/// Environment variable naming a PostgreSQL `bin` directory, overriding discovery.
pub(crate) const PG_BIN_ENV: &str = "RUNPROOF_PG_BIN";

/// Where Debian-style packages install one `bin` directory per major version.
const VERSIONED_ROOT: &str = "/usr/lib/postgresql";

/// The tools this crate runs; a directory counts only if it has all of them, so client-only
/// installs and wrapper scripts are not mistaken for a server install.
const REQUIRED: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// A directory holding `initdb`, `pg_ctl` and `postgres` of one PostgreSQL version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgBinaries {
    dir: PathBuf,
}

impl PgBinaries {
    /// Finds the binaries: `RUNPROOF_PG_BIN` if set, else the directory of the `pg_ctl` on
    /// `PATH` (symlinks resolved), else the highest `/usr/lib/postgresql/<version>/bin`.
    pub(crate) fn discover() -> Result<Self, PgEmbedError> {
        let explicit = env::var_os(PG_BIN_ENV).filter(|v| !v.is_empty());
        discover_in(
            explicit,
            env::var_os("PATH").as_deref(),
            Path::new(VERSIONED_ROOT),
        )
    }

    pub(crate) fn initdb(&self) -> PathBuf {
        self.dir.join("initdb")
    }

    pub(crate) fn pg_ctl(&self) -> PathBuf {
        self.dir.join("pg_ctl")
    }

    pub(crate) fn postgres(&self) -> PathBuf {
        self.dir.join("postgres")
    }
}

/// [`PgBinaries::discover`] with its inputs passed in, so the ordering can be tested.
fn discover_in(
    explicit: Option<OsString>,
    path_var: Option<&OsStr>,
    versioned_root: &Path,
) -> Result<PgBinaries, PgEmbedError> {
    // An explicit setting that is wrong is an error, not a hint: silently falling back
    // would run a different PostgreSQL than the operator asked for.
    if let Some(dir) = explicit {
        let dir = PathBuf::from(dir);
        return if has_all(&dir) {
            Ok(PgBinaries { dir })
        } else {
            Err(PgEmbedError::InvalidBinDir { dir })
        };
    }

    let mut searched = Vec::new();

    if let Some(dir) = pg_ctl_dir_on_path(path_var) {
        if has_all(&dir) {
            return Ok(PgBinaries { dir });
        }
        // Typically Debian's pg_wrapper: pg_ctl resolves to a script that has no initdb
        // next to it, so keep looking in the versioned directories.
        searched.push(dir.display().to_string());
    } else {
        searched.push("pg_ctl on PATH".to_owned());
    }

    for dir in versioned_bin_dirs(versioned_root) {
        if has_all(&dir) {
            return Ok(PgBinaries { dir });
        }
    }
    searched.push(format!("{}/*/bin", versioned_root.display()));

    Err(PgEmbedError::BinariesNotFound {
        searched: searched.join(", "),
    })
}

/// The real directory of the first executable `pg_ctl` on `PATH`.
fn pg_ctl_dir_on_path(path_var: Option<&OsStr>) -> Option<PathBuf> {
    let candidate = env::split_paths(path_var?)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("pg_ctl"))
        .find(|p| is_executable(p))?;
    // /usr/local/bin/pg_ctl is usually a symlink; its siblings live where it points.
    let real = fs::canonicalize(&candidate).ok()?;
    real.parent().map(Path::to_path_buf)
}

/// `<root>/<version>/bin` for every version-named subdirectory, highest version first.
fn versioned_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = parse_version(e.file_name().to_str()?)?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// "9.6" → [9, 6], "15" → [15]; anything else is not a version directory.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn has_all(dir: &Path) -> bool {
    REQUIRED.iter().all(|name| is_executable(&dir.join(name)))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A scratch directory unique to one test, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                env::temp_dir().join(format!("pgembed-binaries-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("create scratch dir");
            Scratch(dir)
        }

        /// Creates `dir` with executable stand-ins for `names`.
        fn bin_dir(&self, rel: &str, names: &[&str]) -> PathBuf {
            let dir = self.0.join(rel);
            fs::create_dir_all(&dir).expect("create bin dir");
            for name in names {
                let file = dir.join(name);
                fs::write(&file, "#!/bin/sh\n").expect("write stand-in");
                fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).expect("chmod");
            }
            dir
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const ALL: &[&str] = &["initdb", "pg_ctl", "postgres"];

    #[test]
    fn explicit_dir_wins_over_path_and_versions() {
        let s = Scratch::new("explicit");
        let explicit = s.bin_dir("custom", ALL);
        let on_path = s.bin_dir("path", ALL);
        s.bin_dir("versions/16/bin", ALL);

        let found = discover_in(
            Some(explicit.clone().into()),
            Some(on_path.as_os_str()),
            &s.0.join("versions"),
        );
        assert_eq!(found.expect("explicit dir is valid").dir, explicit);
    }

    #[test]
    fn explicit_dir_without_binaries_is_an_error_not_a_fallback() {
        let s = Scratch::new("explicit-bad");
        let explicit = s.bin_dir("custom", &["pg_ctl"]);
        s.bin_dir("versions/16/bin", ALL);

        let err = discover_in(Some(explicit.clone().into()), None, &s.0.join("versions"));
        assert!(matches!(err, Err(PgEmbedError::InvalidBinDir { dir }) if dir == explicit));
    }

    #[test]
    fn path_symlink_is_resolved_to_the_real_install() {
        let s = Scratch::new("symlink");
        let real = s.bin_dir("lib/postgresql/15/bin", ALL);
        let local_bin = s.0.join("local-bin");
        fs::create_dir_all(&local_bin).expect("mkdir");
        symlink(real.join("pg_ctl"), local_bin.join("pg_ctl")).expect("symlink");
        s.bin_dir("versions/99/bin", ALL);

        let found =
            discover_in(None, Some(local_bin.as_os_str()), &s.0.join("versions")).expect("found");
        assert_eq!(found.dir, fs::canonicalize(&real).expect("canonicalize"));
    }

    #[test]
    fn wrapper_on_path_falls_back_to_highest_complete_version() {
        let s = Scratch::new("versions");
        let wrapper = s.bin_dir("wrapper", &["pg_ctl"]);
        s.bin_dir("versions/9.6/bin", ALL);
        s.bin_dir("versions/10/bin", ALL);
        // Highest version, but only the client tools: must be skipped.
        s.bin_dir("versions/17/bin", &["pg_ctl"]);
        s.bin_dir("versions/not-a-version/bin", ALL);

        let found =
            discover_in(None, Some(wrapper.as_os_str()), &s.0.join("versions")).expect("found");
        assert_eq!(found.dir, s.0.join("versions/10/bin"));
    }

    #[test]
    fn nothing_found_names_every_place_looked() {
        let s = Scratch::new("none");
        let err = discover_in(None, Some(s.0.as_os_str()), &s.0.join("versions"))
            .expect_err("nothing there");
        let msg = err.to_string();
        assert!(
            msg.contains("pg_ctl on PATH") && msg.contains("versions/*/bin"),
            "{msg}"
        );
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(parse_version("10") > parse_version("9.6"));
        assert_eq!(parse_version("15"), Some(vec![15]));
        assert_eq!(parse_version("main"), None);
    }
}
