//! Who the server runs as. PostgreSQL refuses to run as root, so when we are root every
//! server-side tool runs as the `postgres` OS user, and everything it touches must be
//! owned by, or reachable for, that user.

use std::ffi::{CStr, CString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{PgEmbedError, io_err};

/// The account that runs as the server when we are root.
const SERVER_ACCOUNT: &str = "postgres";

/// The OS identity that initdb, pg_ctl and the server run under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServerUser {
    /// We are not root: run everything as ourselves.
    Current { uid: u32 },
    /// We are root: drop to this account for every server-side tool.
    Switched { name: String, uid: u32, gid: u32 },
}

impl ServerUser {
    pub(crate) fn detect() -> Result<Self, PgEmbedError> {
        let euid = effective_uid();
        if euid != 0 {
            return Ok(ServerUser::Current { uid: euid });
        }
        match lookup_user(SERVER_ACCOUNT)
            .map_err(io_err("look up the user", Path::new(SERVER_ACCOUNT)))?
        {
            // A `postgres` account that is itself uid 0 would be refused by the server too.
            Some((uid, gid)) if uid != 0 => Ok(ServerUser::Switched {
                name: SERVER_ACCOUNT.to_owned(),
                uid,
                gid,
            }),
            _ => Err(PgEmbedError::NoPostgresUser),
        }
    }

    pub(crate) fn is_switched(&self) -> bool {
        matches!(self, ServerUser::Switched { .. })
    }

    pub(crate) fn uid(&self) -> u32 {
        match self {
            ServerUser::Current { uid } | ServerUser::Switched { uid, .. } => *uid,
        }
    }

    pub(crate) fn name(&self) -> String {
        match self {
            ServerUser::Switched { name, .. } => name.clone(),
            ServerUser::Current { uid } => {
                lookup_uid(*uid).map_or_else(|| format!("uid {uid}"), |(name, _)| name)
            }
        }
    }

    /// Makes `cmd` run as the server user.
    pub(crate) fn apply(&self, cmd: &mut Command) {
        if let ServerUser::Switched { uid, gid, .. } = self {
            // std sets the gid, then drops all supplementary groups (setgroups(0)) because
            // no explicit group list is given, then sets the uid; so the child keeps none of
            // root's groups. That is why `traversable` only considers the primary gid.
            cmd.uid(*uid).gid(*gid);
        }
    }

    /// Gives `path` to the server user; a no-op when we already are that user.
    pub(crate) fn give(&self, path: &Path) -> Result<(), PgEmbedError> {
        if let ServerUser::Switched { uid, gid, .. } = self {
            std::os::unix::fs::chown(path, Some(*uid), Some(*gid))
                .map_err(io_err("change the owner of", path))?;
        }
        Ok(())
    }

    /// Fails with a fix-it message if the server user cannot walk down to `dir`. If `dir`
    /// does not exist yet, its nearest existing ancestor is checked, so a hopeless home
    /// is refused before we create anything in it.
    pub(crate) fn check_reachable(&self, dir: &Path) -> Result<(), PgEmbedError> {
        let ServerUser::Switched { name, uid, gid } = self else {
            // We created the directories ourselves and we are the server user.
            return Ok(());
        };
        let existing = dir.ancestors().find(|p| p.exists()).unwrap_or(dir);
        let real = fs::canonicalize(existing).map_err(io_err("resolve", existing))?;
        let stat = |p: &Path| {
            fs::metadata(p).map(|m| DirMode {
                mode: m.mode(),
                uid: m.uid(),
                gid: m.gid(),
            })
        };
        match first_unreachable(&real, *uid, *gid, stat).map_err(io_err("inspect", &real))? {
            None => Ok(()),
            Some(path) => Err(PgEmbedError::Unreachable {
                user: name.clone(),
                path,
            }),
        }
    }

    /// Fails if the data directory belongs to someone else: the server would refuse it with
    /// a less helpful message, after we had already spent time starting it.
    pub(crate) fn check_owns(&self, data_dir: &Path) -> Result<(), PgEmbedError> {
        let owner = fs::metadata(data_dir)
            .map_err(io_err("inspect", data_dir))?
            .uid();
        if owner == self.uid() {
            return Ok(());
        }
        Err(PgEmbedError::WrongOwner {
            data_dir: data_dir.to_path_buf(),
            owner,
            user: self.name(),
            uid: self.uid(),
        })
    }
}

/// The effective uid of this process.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// The owner and permission bits of a directory, as far as traversal is concerned.
#[derive(Debug, Clone, Copy)]
struct DirMode {
    mode: u32,
    uid: u32,
    gid: u32,
}

/// Whether a user (with only its primary group) may search directory `dir`. Mirrors the
/// kernel's rule: the owner class applies if the uid matches, else the group class if the
/// gid matches, else "other", with no falling through between classes. ACLs are ignored.
fn traversable(dir: DirMode, uid: u32, gid: u32) -> bool {
    if uid == 0 {
        return true;
    }
    let bit = if dir.uid == uid {
        0o100
    } else if dir.gid == gid {
        0o010
    } else {
        0o001
    };
    dir.mode & bit != 0
}

/// The first of `path` and its ancestors, from `/` down, that the user may not enter.
fn first_unreachable(
    path: &Path,
    uid: u32,
    gid: u32,
    stat: impl Fn(&Path) -> io::Result<DirMode>,
) -> io::Result<Option<PathBuf>> {
    let mut chain: Vec<&Path> = path.ancestors().collect();
    chain.reverse();
    for dir in chain {
        if !traversable(stat(dir)?, uid, gid) {
            return Ok(Some(dir.to_path_buf()));
        }
    }
    Ok(None)
}

/// Looks up an account by name: `(uid, gid)`, or `None` if there is no such user.
fn lookup_user(name: &str) -> io::Result<Option<(u32, u32)>> {
    let cname = CString::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    with_passwd(|pwd, buf, result| {
        // SAFETY: `cname` is a valid NUL-terminated string; `pwd`, `buf` and `result` are
        // valid for writes and `buf`'s length is passed alongside it, as getpwnam_r requires.
        unsafe { libc::getpwnam_r(cname.as_ptr(), pwd, buf.as_mut_ptr(), buf.len(), result) }
    })
    .map(|entry| entry.map(|pwd| (pwd.pw_uid, pwd.pw_gid)))
}

/// The login name and home directory of `uid`.
pub(crate) fn lookup_uid(uid: u32) -> Option<(String, PathBuf)> {
    let mut found = None;
    with_passwd(|pwd, buf, result| {
        // SAFETY: as for getpwnam_r above: all pointers are valid for writes and the buffer
        // length matches the buffer.
        let rc = unsafe { libc::getpwuid_r(uid, pwd, buf.as_mut_ptr(), buf.len(), result) };
        if rc == 0 && !result.is_null() && !pwd.pw_name.is_null() && !pwd.pw_dir.is_null() {
            // SAFETY: on success pw_name and pw_dir point into `buf`, NUL-terminated, and
            // `buf` is alive for this whole closure; we copy both strings out here.
            let (name, dir) = unsafe { (CStr::from_ptr(pwd.pw_name), CStr::from_ptr(pwd.pw_dir)) };
            let dir = PathBuf::from(std::ffi::OsStr::from_bytes(dir.to_bytes()));
            found = Some((name.to_string_lossy().into_owned(), dir));
        }
        rc
    })
    .ok()?;
    found
}

/// Runs a reentrant passwd lookup, growing the string buffer until it fits. Returns the
/// entry's numeric fields (its string pointers die with the buffer, so callers must copy
/// strings out inside `call`).
fn with_passwd(
    mut call: impl FnMut(&mut libc::passwd, &mut [libc::c_char], &mut *mut libc::passwd) -> libc::c_int,
) -> io::Result<Option<libc::passwd>> {
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: passwd is a plain C struct of integers and pointers; all-zero is a valid
        // (if meaningless) value, and it is only read after the lookup fills it.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = call(&mut pwd, &mut buf, &mut result);
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        return Ok(if result.is_null() { None } else { Some(pwd) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const PG_UID: u32 = 101;
    const PG_GID: u32 = 104;

    fn dir(mode: u32, uid: u32, gid: u32) -> DirMode {
        DirMode { mode, uid, gid }
    }

    #[test]
    fn traversal_follows_the_owner_group_other_classes() {
        // Root's private home: nobody else gets in.
        assert!(!traversable(dir(0o700, 0, 0), PG_UID, PG_GID));
        // World-searchable is enough, readability is not needed.
        assert!(traversable(dir(0o711, 0, 0), PG_UID, PG_GID));
        // Group class applies when the gid matches...
        assert!(traversable(dir(0o710, 0, PG_GID), PG_UID, PG_GID));
        assert!(!traversable(dir(0o701, 0, PG_GID), PG_UID, PG_GID));
        // ...and the owner class, when the uid matches, even if "other" would allow it.
        assert!(traversable(dir(0o700, PG_UID, 0), PG_UID, PG_GID));
        assert!(!traversable(dir(0o011, PG_UID, 0), PG_UID, PG_GID));
        // Root gets in everywhere.
        assert!(traversable(dir(0o000, 5, 5), 0, 0));
    }

    #[test]
    fn first_unreachable_names_the_blocking_ancestor() {
        let modes: HashMap<&str, DirMode> = HashMap::from([
            ("/", dir(0o755, 0, 0)),
            ("/root", dir(0o700, 0, 0)),
            ("/root/runproof", dir(0o755, 0, 0)),
            ("/root/runproof/postgres", dir(0o711, 0, 0)),
            ("/var", dir(0o755, 0, 0)),
            ("/var/lib", dir(0o755, 0, 0)),
            ("/var/lib/runproof", dir(0o755, 0, 0)),
        ]);
        let stat = |p: &Path| {
            p.to_str()
                .and_then(|s| modes.get(s).copied())
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        };

        let blocked = first_unreachable(Path::new("/root/runproof/postgres"), PG_UID, PG_GID, stat)
            .expect("stat ok");
        assert_eq!(blocked, Some(PathBuf::from("/root")));

        let open = first_unreachable(Path::new("/var/lib/runproof"), PG_UID, PG_GID, stat)
            .expect("stat ok");
        assert_eq!(open, None);

        let missing = first_unreachable(Path::new("/nope"), PG_UID, PG_GID, stat);
        assert!(missing.is_err());
    }

    #[test]
    fn root_account_is_found_by_name_and_uid() {
        assert_eq!(lookup_user("root").expect("lookup"), Some((0, 0)));
        assert_eq!(lookup_user("no-such-user-runproof").expect("lookup"), None);
        assert_eq!(lookup_uid(0).map(|(name, _)| name).as_deref(), Some("root"));
    }
}
