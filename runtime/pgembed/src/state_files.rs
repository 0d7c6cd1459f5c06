//! The small files beside the data directory that say how to reach the cluster: the
//! superuser password and the TCP port. Written atomically so a reader (`url()`, which
//! takes no lock) never sees half a file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{PgEmbedError, io_err};

/// Bytes of randomness in the superuser password (hex-encoded, so twice as many chars).
const PASSWORD_BYTES: usize = 32;

/// A fresh random password, hex so it needs no escaping in URLs or config files.
pub(crate) fn new_password() -> String {
    hex::encode(rand::random::<[u8; PASSWORD_BYTES]>())
}

/// Reads the saved password; `remove` is what the operator must delete to recover if it
/// is damaged (the cluster itself, since the password cannot be recovered from it).
pub(crate) fn read_password(path: &Path, remove: &Path) -> Result<String, PgEmbedError> {
    let text = fs::read_to_string(path).map_err(io_err("read", path))?;
    let password = text.trim();
    if password.is_empty() || !password.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(PgEmbedError::Corrupt {
            path: path.to_path_buf(),
            reason: "expected a hex password".into(),
            remove: remove.to_path_buf(),
        });
    }
    Ok(password.to_owned())
}

/// Reads the saved port, or `None` if there is none or it is unusable; the port is only
/// a preference, so a bad one is simply replaced.
pub(crate) fn read_port(path: &Path) -> Option<u16> {
    fs::read_to_string(path)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|p| *p != 0)
}

/// Reads the saved port for `url()`, where there is no chance to pick a new one.
pub(crate) fn require_port(path: &Path) -> Result<u16, PgEmbedError> {
    read_port(path).ok_or_else(|| PgEmbedError::Corrupt {
        path: path.to_path_buf(),
        reason: "expected a TCP port number".into(),
        remove: path.to_path_buf(),
    })
}

/// Asks the kernel for a currently free port on 127.0.0.1. Someone may take it before
/// the server binds it; starting retries once with a new port for that case.
pub(crate) fn free_port() -> Result<u16, PgEmbedError> {
    let addr = "127.0.0.1:0";
    let listener = TcpListener::bind(addr).map_err(io_err("bind", Path::new(addr)))?;
    let port = listener
        .local_addr()
        .map_err(io_err("query the address of", Path::new(addr)))?
        .port();
    Ok(port)
}

/// Whether 127.0.0.1:`port` can be bound right now. std sets SO_REUSEADDR like the
/// server does, so lingering TIME_WAIT connections do not count as "taken".
pub(crate) fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Replaces `path` with `contents` (mode `mode`) via a temp file and rename, synced so it
/// survives a crash together with the cluster it describes.
pub(crate) fn write_atomic(path: &Path, contents: &str, mode: u32) -> Result<(), PgEmbedError> {
    let tmp = path.with_extension("tmp");
    // A leftover from a crash may have other permissions; start clean so `mode` applies.
    if let Err(e) = fs::remove_file(&tmp)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(io_err("remove", &tmp)(e));
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err("create", &tmp))?;
    file.write_all(contents.as_bytes())
        .map_err(io_err("write", &tmp))?;
    file.sync_all().map_err(io_err("sync", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("rename into place", path))?;
    sync_parent(path)
}

/// Makes a rename or create in `path`'s directory durable.
pub(crate) fn sync_parent(path: &Path) -> Result<(), PgEmbedError> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync", dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn passwords_are_long_random_hex() {
        let a = new_password();
        let b = new_password();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn atomic_write_sets_mode_and_round_trips() {
        let dir = std::env::temp_dir().join(format!("pgembed-state-files-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("mkdir");
        let pw = dir.join("password");

        write_atomic(&pw, "abc123\n", 0o600).expect("write");
        assert_eq!(
            fs::metadata(&pw).expect("stat").permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read_password(&pw, &dir).expect("read"), "abc123");
        assert!(!pw.with_extension("tmp").exists());

        write_atomic(&pw, "not hex!\n", 0o600).expect("write");
        assert!(matches!(
            read_password(&pw, &dir),
            Err(PgEmbedError::Corrupt { .. })
        ));

        let port = dir.join("port");
        write_atomic(&port, "54321\n", 0o644).expect("write");
        assert_eq!(read_port(&port), Some(54321));
        write_atomic(&port, "0\n", 0o644).expect("write");
        assert_eq!(read_port(&port), None);
        assert_eq!(read_port(&dir.join("missing")), None);

        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn a_bound_port_is_not_free() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert!(!port_is_free(port));
        drop(listener);
        assert!(port_is_free(port));
    }
}
