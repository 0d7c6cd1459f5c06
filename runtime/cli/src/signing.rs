//! The runtime's signing key on disk, and the public keys a verifier pins.
//!
//! The private key is a PKCS#8 PEM file with mode 0600 in a 0700 directory, never in the
//! database. A key file that others can read is refused (as ssh does): a key that may have
//! leaked cannot vouch for anything.

use anyhow::{Context, Result, bail};
use runproof_proof::seal::{
    SigningKey, VerifyingKey, Zeroizing, key_id, signing_key_from_pem, signing_key_from_seed,
    signing_key_to_pem, verifying_key_from_pem,
};
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where the signing key lives, and whether the operator named it (then it is never
/// created implicitly).
pub struct KeyLocation {
    pub path: PathBuf,
    pub explicit: bool,
}

impl KeyLocation {
    pub fn from_cli(signing_key: Option<&PathBuf>, home: Option<&PathBuf>) -> KeyLocation {
        match signing_key {
            Some(p) => KeyLocation {
                path: p.clone(),
                explicit: true,
            },
            None => KeyLocation {
                path: crate::database::home_dir(home)
                    .join("keys")
                    .join("signing-key.pem"),
                explicit: false,
            },
        }
    }

    /// The key, if the file exists.
    pub fn load(&self) -> Result<Option<SigningKey>> {
        match fs::metadata(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => {
                Err(e).with_context(|| format!("reading signing key {}", self.path.display()))
            }
            Ok(meta) => {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    bail!(
                        "signing key {} is readable by other users (mode {mode:04o}); run `chmod 600 {}`",
                        self.path.display(),
                        self.path.display()
                    );
                }
                let pem = fs::read_to_string(&self.path)
                    .with_context(|| format!("reading signing key {}", self.path.display()))?;
                let key = signing_key_from_pem(&pem)
                    .with_context(|| format!("signing key {}", self.path.display()))?;
                Ok(Some(key))
            }
        }
    }

    /// The key for a run: loaded, or created on first use at the default location (an
    /// operator who named a file gets an error instead of a surprise key).
    pub fn load_or_create(&self, out: &crate::output::Out) -> Result<SigningKey> {
        if let Some(key) = self.load()? {
            return Ok(key);
        }
        if self.explicit {
            bail!(
                "signing key {} does not exist; create it with `runtime keys generate --out {}`",
                self.path.display(),
                self.path.display()
            );
        }
        let key = generate_at(&self.path)?;
        out.progress(format!(
            "created signing key {} (key id {}); reviewers pin its public half: runtime keys export-public",
            self.path.display(),
            key_id(&key.verifying_key())
        ));
        Ok(key)
    }
}

/// A fresh key from the OS CSPRNG, written to `path` (which must not exist) with mode 0600.
pub fn generate_at(path: &Path) -> Result<SigningKey> {
    // Cleared on drop, so the seed does not linger in memory after the key is made.
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(seed.as_mut())
        .map_err(|e| anyhow::anyhow!("the OS random number generator failed: {e}"))?;
    let key = signing_key_from_seed(*seed);
    let pem = signing_key_to_pem(&key)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Only the key's own directory is private. Its ancestors (RUNPROOF_HOME, which the
        // `postgres` user must traverse for the built-in database) get default permissions.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        if !dir.exists() {
            fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating signing key {}", path.display()))?;
    file.write_all(pem.as_bytes())
        .with_context(|| format!("writing signing key {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("writing signing key {}", path.display()))?;
    Ok(key)
}

/// Reads the public keys a reviewer pinned. Each file must be an SPKI public key PEM.
pub fn load_trusted(paths: &[PathBuf]) -> Result<Vec<VerifyingKey>> {
    paths
        .iter()
        .map(|p| {
            let pem = fs::read_to_string(p)
                .with_context(|| format!("reading trusted key {}", p.display()))?;
            verifying_key_from_pem(&pem).with_context(|| {
                format!(
                    "trusted key {} (export one with `runtime keys export-public`)",
                    p.display()
                )
            })
        })
        .collect()
}

/// The keys `runtime proof` trusts: the pinned ones, else the local signing key's public
/// half (the operator trusts their own runtime). Returns a description for people.
pub fn trusted_or_local(
    paths: &[PathBuf],
    local: &KeyLocation,
) -> Result<(Vec<VerifyingKey>, String)> {
    if !paths.is_empty() {
        let keys = load_trusted(paths)?;
        let ids: Vec<String> = keys.iter().map(|k| key_id(k)[..12].to_string()).collect();
        return Ok((keys, format!("pinned key(s) {}", ids.join(", "))));
    }
    match local.load()? {
        Some(key) => {
            let id = key_id(&key.verifying_key());
            Ok((
                vec![key.verifying_key()],
                format!("local signing key {}", &id[..12]),
            ))
        }
        None => Ok((Vec::new(), "none (pass --trusted-key FILE)".into())),
    }
}
