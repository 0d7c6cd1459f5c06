//! Which database a command uses, and getting it ready.
//!
//! `DATABASE_URL` set: that database, and its schema must already match (`runtime db
//! migrate`). Unset: the private cluster under RUNPROOF_HOME, started and migrated on demand.

use anyhow::{Context, Result};
use runproof_pgembed::EmbeddedPostgres;
use runproof_store::{RecoveredRun, Store, StoreError};
use std::path::PathBuf;

#[derive(Clone)]
pub enum Database {
    External(String),
    Embedded(EmbeddedPostgres),
}

/// RUNPROOF_HOME, or the default for this user.
pub fn home_dir(home: Option<&PathBuf>) -> PathBuf {
    home.cloned().unwrap_or_else(runproof_pgembed::default_home)
}

/// Host settings shared by every command that runs or loads skills.
pub fn host_config(home: Option<&PathBuf>) -> runproof_host::HostConfig {
    runproof_host::HostConfig {
        cache_dir: Some(home_dir(home).join("cache").join("components")),
        scratch_root: Some(home_dir(home).join("scratch")),
        // The way past the pool's fixed per-component limits (`HostError::PoolLimit`
        // names it): slower instantiation, the same store limits.
        on_demand_allocator: std::env::var("RUNPROOF_ALLOCATOR").as_deref() == Ok("on-demand"),
        ..Default::default()
    }
}

impl Database {
    pub fn from_cli(url: Option<&str>, home: Option<&PathBuf>) -> Database {
        match url.filter(|u| !u.trim().is_empty()) {
            Some(u) => Database::External(u.to_string()),
            None => Database::Embedded(EmbeddedPostgres::new(home_dir(home))),
        }
    }

    /// The URL to connect to; starts the private cluster if needed.
    pub fn url(&self) -> Result<String> {
        match self {
            Database::External(u) => Ok(u.clone()),
            Database::Embedded(pg) => {
                if matches!(
                    pg.state(),
                    Ok(runproof_pgembed::ClusterState::NotInitialized)
                ) {
                    // First use takes a few seconds; say why the command is quiet.
                    eprintln!(
                        "initializing the built-in database (first use; set DATABASE_URL to use your own)..."
                    );
                }
                Ok(pg.ensure_running()?.url)
            }
        }
    }

    /// A store whose schema matches this runtime. Any command that opens the store also
    /// fails the runs whose runner is gone, so no run stays `running` forever (see
    /// `runproof_store::leases`); what it recovered is logged.
    pub async fn ready_store(&self) -> Result<Store> {
        let (store, recovered) = self.ready_store_recovering().await?;
        match recovered {
            Ok(runs) => {
                for r in &runs {
                    tracing::warn!(
                        "run {} (tenant {}): {}",
                        r.run_id,
                        r.tenant_id,
                        r.error_message
                    );
                }
            }
            Err(e) => tracing::warn!("could not recover lost runs: {e}"),
        }
        Ok(store)
    }

    /// `ready_store`, returning what the recovery pass did (for `runtime runs recover`).
    pub async fn ready_store_recovering(
        &self,
    ) -> Result<(Store, Result<Vec<RecoveredRun>, StoreError>)> {
        let store = self.connect().await?;
        match self {
            // Our own database: keeping it migrated is our job.
            Database::Embedded(_) => {
                store
                    .migrate()
                    .await
                    .context("migrating the built-in database")?;
            }
            // Someone else's: never change it implicitly; say what to run.
            Database::External(_) => store.check_schema().await?,
        }
        let recovered = store.recover_lost_runs().await;
        Ok((store, recovered))
    }

    /// Which database, for people (never the password).
    pub fn describe(&self) -> String {
        match self {
            Database::External(url) => format!("external ({})", redact_password(url)),
            Database::Embedded(_) => {
                "built-in (a private cluster under RUNPROOF_HOME, 127.0.0.1 only)".to_string()
            }
        }
    }

    /// [`Database::url`] from async code: starting the private cluster runs `pg_ctl` and
    /// waits for it (seconds on first use), which belongs on the blocking pool, not on an
    /// async worker thread.
    pub async fn url_blocking_pool(&self) -> Result<String> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.url())
            .await
            .map_err(|e| anyhow::anyhow!("the database start task failed: {e}"))?
    }

    /// A store with no schema check (for `db migrate` and `db status`).
    pub async fn connect(&self) -> Result<Store> {
        let url = self.url_blocking_pool().await?;
        Ok(Store::connect(&url).await?)
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(unparsed URL)".into();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(parts) => parts,
        None => return url.to_string(),
    };
    let user = auth.split(':').next().unwrap_or("");
    format!("{scheme}://{user}:***@{host}")
}
