//! Tenant secrets: encryption at rest and the per-run effective set.
//!
//! Values are sealed with ChaCha20-Poly1305 (RustCrypto `chacha20poly1305`) under one
//! 256-bit key kept in `RUNPROOF_HOME/keys/secrets.key` (file 0600, directory 0700), created
//! on first use and never written to the database: a database dump or a replica alone
//! reveals no value. Each value has a fresh random 96-bit nonce, and its AAD binds it to
//! its tenant and name, so a ciphertext moved to another tenant or name fails to open.
//!
//! The effective set for one skill in one run is: declared by the skill in `describe` ∩
//! granted to the agent (`allowed_secrets`) ∩ stored for the run's tenant. It is loaded
//! once, before the run is written, and handed to the host as a `SecretSet`.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use runproof_host::{HostPattern, Secret, SecretSet};
use runproof_store::Store;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SecretError {
    #[error("secret key file {path}: {reason}")]
    Key { path: String, reason: String },
    #[error(
        "secret {name} of tenant {tenant} cannot be decrypted (wrong key file, or the row was altered)"
    )]
    Decrypt { tenant: String, name: String },
    #[error("secret {name} of tenant {tenant}: {reason}")]
    Invalid {
        tenant: String,
        name: String,
        reason: String,
    },
    #[error(transparent)]
    Store(#[from] runproof_store::StoreError),
}

/// The key that seals secret values. `Debug` does not show it.
pub struct SecretKeyring {
    cipher: ChaCha20Poly1305,
    path: PathBuf,
}

impl std::fmt::Debug for SecretKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKeyring")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Where the key of `home` lives.
pub fn key_path(home: &Path) -> PathBuf {
    home.join("keys").join("secrets.key")
}

impl SecretKeyring {
    /// Opens `home`'s key, creating it (and `keys/`, 0700) on first use.
    pub fn open_or_create(home: &Path) -> Result<SecretKeyring, SecretError> {
        use crate::private_file::{check_private, create_private};
        let path = key_path(home);
        let err = |reason: String| SecretError::Key {
            path: path.display().to_string(),
            reason,
        };
        if !path.exists() {
            let key = ChaCha20Poly1305::generate_key(&mut OsRng);
            match create_private(&path, key.as_slice()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(err(format!("creating: {e}"))),
            }
        }
        let meta = std::fs::metadata(&path).map_err(|e| err(e.to_string()))?;
        if let Err(mode) = check_private(&meta) {
            return Err(err(format!(
                "is readable by others (mode {mode:o}); run `chmod 600` on it"
            )));
        }
        let bytes = std::fs::read(&path).map_err(|e| err(format!("reading: {e}")))?;
        if bytes.len() != 32 {
            return Err(err(format!(
                "holds {} bytes, expected a 32-byte key",
                bytes.len()
            )));
        }
        Ok(SecretKeyring {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&bytes)),
            path,
        })
    }

    /// `(ciphertext, nonce)` of `value` for `tenant`'s secret `name`.
    pub fn seal(
        &self,
        tenant: &str,
        name: &str,
        value: &str,
    ) -> Result<(Vec<u8>, Vec<u8>), SecretError> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ct = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: value.as_bytes(),
                    aad: &aad(tenant, name),
                },
            )
            .map_err(|_| SecretError::Invalid {
                tenant: tenant.into(),
                name: name.into(),
                reason: "encryption failed".into(),
            })?;
        Ok((ct, nonce.to_vec()))
    }

    /// The value sealed by [`seal`](Self::seal).
    pub fn open(
        &self,
        tenant: &str,
        name: &str,
        ciphertext: &[u8],
        nonce: &[u8],
    ) -> Result<String, SecretError> {
        let decrypt = || SecretError::Decrypt {
            tenant: tenant.into(),
            name: name.into(),
        };
        if nonce.len() != 12 {
            return Err(decrypt());
        }
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad(tenant, name),
                },
            )
            .map_err(|_| decrypt())?;
        String::from_utf8(plain).map_err(|_| decrypt())
    }
}

/// AAD: length-prefixed tenant and name, so ("ab","c") and ("a","bc") differ.
fn aad(tenant: &str, name: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(16 + tenant.len() + name.len());
    a.extend_from_slice(b"runproof/secret/v1\0");
    for part in [tenant, name] {
        a.extend_from_slice(&(part.len() as u64).to_be_bytes());
        a.extend_from_slice(part.as_bytes());
    }
    a
}

/// The effective secrets of each skill for one run (skill name → set). Skills that may use
/// none get an empty set. Loads and decrypts once; any failure refuses the run before it is
/// written.
pub(crate) async fn load_for_run(
    store: &Store,
    home: Option<&Path>,
    tenant: &str,
    agent_allowed: &[String],
    declared: &BTreeMap<String, Vec<String>>,
) -> Result<BTreeMap<String, Arc<SecretSet>>, SecretError> {
    let wanted: BTreeSet<String> = declared
        .values()
        .flatten()
        .filter(|n| agent_allowed.contains(n))
        .cloned()
        .collect();
    let mut loaded: Vec<Secret> = Vec::new();
    let names: Vec<String> = wanted.into_iter().collect();
    // The key is opened only when a stored secret is actually wanted: runs without secrets
    // never depend on the key file.
    let rows = store.sealed_secrets(tenant, &names).await?;
    if !rows.is_empty() {
        let Some(home) = home else {
            return Err(SecretError::Key {
                path: "(none)".into(),
                reason: "this runner has no secret key configured".into(),
            });
        };
        let keyring = SecretKeyring::open_or_create(home)?;
        for row in rows {
            let value = keyring.open(tenant, &row.name, &row.ciphertext, &row.nonce)?;
            let allowed_hosts = row
                .allowed_hosts
                .iter()
                .map(|p| HostPattern::parse(p))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| SecretError::Invalid {
                    tenant: tenant.into(),
                    name: row.name.clone(),
                    reason: e.to_string(),
                })?;
            loaded.push(Secret {
                name: row.name,
                value,
                allowed_hosts,
            });
        }
    }
    Ok(declared
        .iter()
        .map(|(skill, names)| {
            let mine = loaded
                .iter()
                .filter(|s| names.contains(&s.name) && agent_allowed.contains(&s.name))
                .cloned()
                .collect();
            (skill.clone(), Arc::new(SecretSet::new(mine)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "runproof-keytest-{}-{}",
            std::process::id(),
            crate::new_id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn key_file_is_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let h = home();
        let k1 = SecretKeyring::open_or_create(&h).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&key_path(&h)), 0o600);
        assert_eq!(mode(&h.join("keys")), 0o700);
        let (ct, nonce) = k1.seal("t1", "TOKEN", "value-1").unwrap();
        assert!(
            !ct.windows(7).any(|w| w == b"value-1"),
            "ciphertext must not contain the value"
        );
        let k2 = SecretKeyring::open_or_create(&h).unwrap();
        assert_eq!(k2.open("t1", "TOKEN", &ct, &nonce).unwrap(), "value-1");
        // Bound to tenant and name.
        assert!(k2.open("t2", "TOKEN", &ct, &nonce).is_err());
        assert!(k2.open("t1", "OTHER", &ct, &nonce).is_err());
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert!(k2.open("t1", "TOKEN", &bad, &nonce).is_err());
        // A world-readable key is refused.
        std::fs::set_permissions(key_path(&h), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            SecretKeyring::open_or_create(&h)
                .unwrap_err()
                .to_string()
                .contains("readable by others")
        );
        let _ = std::fs::remove_dir_all(&h);
    }

    #[test]
    fn aad_is_unambiguous() {
        assert_ne!(aad("ab", "c"), aad("a", "bc"));
    }
}
