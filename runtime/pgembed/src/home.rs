//! The default home directory when RUNPROOF_HOME is not set.

use std::env;
use std::ffi::OsString;
use std::path::PathBuf;

use crate::privileges::{effective_uid, lookup_uid};

/// Where the runtime keeps its state by default.
///
/// - As root: `/var/lib/runproof`. Root's own home is usually mode 0700, which the
///   `postgres` user the server runs as could not enter.
/// - Otherwise: `$XDG_DATA_HOME/runproof` (if set to an absolute path, as the XDG spec
///   requires), else `$HOME/.local/share/runproof`, with the home directory taken from the
///   user database if `HOME` is unset, and as a last resort `<temp dir>/runproof-<uid>`.
pub fn default_home() -> PathBuf {
    let uid = effective_uid();
    default_home_for(
        uid,
        env::var_os("XDG_DATA_HOME"),
        env::var_os("HOME"),
        || lookup_uid(uid).map(|(_, dir)| dir),
    )
}

/// [`default_home`] with its inputs passed in, so each rule can be tested.
fn default_home_for(
    euid: u32,
    xdg_data_home: Option<OsString>,
    home: Option<OsString>,
    passwd_home: impl FnOnce() -> Option<PathBuf>,
) -> PathBuf {
    if euid == 0 {
        return PathBuf::from("/var/lib/runproof");
    }
    if let Some(xdg) = xdg_data_home.map(PathBuf::from).filter(|p| p.is_absolute()) {
        return xdg.join("runproof");
    }
    let home = home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(passwd_home);
    match home {
        Some(home) => home.join(".local/share/runproof"),
        None => env::temp_dir().join(format!("runproof-{euid}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> Option<PathBuf> {
        None
    }

    #[test]
    fn root_uses_a_directory_the_postgres_user_can_reach() {
        let home = default_home_for(0, Some("/x".into()), Some("/root".into()), none);
        assert_eq!(home, PathBuf::from("/var/lib/runproof"));
    }

    #[test]
    fn users_prefer_xdg_then_home_then_passwd() {
        assert_eq!(
            default_home_for(1000, Some("/data".into()), Some("/home/u".into()), none),
            PathBuf::from("/data/runproof")
        );
        // A relative XDG_DATA_HOME is invalid per the spec and ignored.
        assert_eq!(
            default_home_for(1000, Some("rel".into()), Some("/home/u".into()), none),
            PathBuf::from("/home/u/.local/share/runproof")
        );
        assert_eq!(
            default_home_for(1000, None, None, || Some(PathBuf::from("/home/pw"))),
            PathBuf::from("/home/pw/.local/share/runproof")
        );
        assert_eq!(
            default_home_for(1000, None, None, none),
            env::temp_dir().join("runproof-1000")
        );
    }
}
