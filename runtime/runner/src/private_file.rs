//! Files only this user may read: the secret-encryption key and the signing keys. One
//! writer and one check, so every key file gets the same protection.
//!
//! Only a key's own directory is made private (0700). Its ancestors keep default
//! permissions: RUNPROOF_HOME must stay traversable by the `postgres` user that runs the
//! built-in database.

use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `path` holding `bytes`, mode 0600, synced to disk, in a directory created 0700
/// if missing. `create_new`: it fails with `AlreadyExists` rather than replace a file, so two
/// processes starting at once never each write a different key (the loser reads the
/// winner's).
pub fn create_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        if !dir.exists() {
            match std::fs::DirBuilder::new().mode(0o700).create(dir) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A key others can read is a leaked key: the caller refuses it rather than use it
/// quietly. `Err` carries the file's mode (e.g. 0o644) when group or others have access.
pub fn check_private(meta: &std::fs::Metadata) -> Result<(), u32> {
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 { Err(mode) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_private_once_and_checked() {
        let home = std::env::temp_dir().join(format!("rp-private-{}", std::process::id()));
        let path = home.join("keys").join("k");
        create_private(&path, b"one").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&path), mode(path.parent().unwrap())), (0o600, 0o700));
        let again = create_private(&path, b"two").unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"one", "never replaced");
        assert!(check_private(&std::fs::metadata(&path).unwrap()).is_ok());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(
            check_private(&std::fs::metadata(&path).unwrap()),
            Err(0o640)
        );
        std::fs::remove_dir_all(&home).unwrap();
    }
}
