//! The runtime's signing key on disk, and the public keys a verifier pins.
//!
//! The private key is a PKCS#8 PEM file with mode 0600 in a 0700 directory, never in the
//! database. A key file that others can read is refused (as ssh does): a key that may have
//! leaked cannot vouch for anything.

use anyhow::{Context, Result, bail};
use runproof_proof::seal::{
    SigningKey, VerifyingKey, Zeroizing, key_id, signing_key_from_pem, signing_key_from_seed,
    signing_key_to_pem, verifying_keys_from_keyring,
};
use std::fs;
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
                if let Err(mode) = runproof_runner::private_file::check_private(&meta) {
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
    runproof_runner::private_file::create_private(path, pem.as_bytes())
        .with_context(|| format!("creating signing key {}", path.display()))?;
    Ok(key)
}

/// Reads the public keys a reviewer pinned. Each file is one SPKI public key PEM or a
/// keyring of several (`runtime keys export-public --all`); a key pinned twice counts once.
pub fn load_trusted(paths: &[PathBuf]) -> Result<Vec<VerifyingKey>> {
    let mut keys: Vec<VerifyingKey> = Vec::new();
    for p in paths {
        let text = fs::read_to_string(p)
            .with_context(|| format!("reading trusted key {}", p.display()))?;
        let found = verifying_keys_from_keyring(&text).with_context(|| {
            format!(
                "trusted key {} (export one with `runtime keys export-public`, or every key with `--all`)",
                p.display()
            )
        })?;
        for k in found {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    Ok(keys)
}

/// The keys `runtime proof` trusts: the pinned ones, else the public halves of the key
/// files this runtime holds (the signing key and the retired ones: the operator trusts their
/// own runtime). Never a key from the database. Returns a description for people.
pub fn trusted_or_local(
    paths: &[PathBuf],
    local: &KeyLocation,
) -> Result<(Vec<VerifyingKey>, String)> {
    if !paths.is_empty() {
        let keys = load_trusted(paths)?;
        let ids: Vec<String> = keys.iter().map(|k| key_id(k)[..12].to_string()).collect();
        return Ok((keys, format!("pinned key(s) {}", ids.join(", "))));
    }
    let held = held_keys(local)?;
    let mut note = match held.iter().find(|h| !h.retired) {
        Some(h) => format!("local signing key {}", &h.key_id[..12]),
        None if held.is_empty() => {
            return Ok((Vec::new(), "none (pass --trusted-key FILE)".into()));
        }
        None => "no current signing key".to_string(),
    };
    let retired = held.iter().filter(|h| h.retired).count();
    if retired > 0 {
        note.push_str(&format!(" and {retired} retired key(s) held locally"));
    }
    Ok((held.into_iter().map(|h| h.public).collect(), note))
}

/// The key files this runtime holds: the current signing key and every retired one (in
/// `keys/retired/` beside it), each with the key id computed from its bytes. The only
/// source of public keys a reviewer is handed.
pub fn held_keys(local: &KeyLocation) -> Result<Vec<HeldKey>> {
    let mut held = Vec::new();
    if let Some(key) = local.load()? {
        held.push(HeldKey {
            key_id: key_id(&key.verifying_key()),
            public: key.verifying_key(),
            path: local.path.clone(),
            retired: false,
        });
    }
    let dir = retired_dir(&local.path);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(held),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .collect();
    paths.sort();
    for path in paths {
        let key = KeyLocation {
            path: path.clone(),
            explicit: true,
        }
        .load()?
        .with_context(|| format!("retired key {} vanished", path.display()))?;
        let id = key_id(&key.verifying_key());
        if !held.iter().any(|h: &HeldKey| h.key_id == id) {
            held.push(HeldKey {
                key_id: id,
                public: key.verifying_key(),
                path,
                retired: true,
            });
        }
    }
    Ok(held)
}

/// One key file this runtime holds.
pub struct HeldKey {
    /// Computed from the key bytes, never read from a file name or the database.
    pub key_id: String,
    pub public: VerifyingKey,
    pub path: PathBuf,
    pub retired: bool,
}

/// Where `keys generate --rotate` moves the old private key: `retired/` beside the key.
pub fn retired_dir(key_path: &Path) -> PathBuf {
    key_path
        .parent()
        .map(|p| p.join("retired"))
        .unwrap_or_else(|| "retired".into())
}
