//! Postgres persistence for RunProof: schema migrations, agents, skills, runs, traces and
//! append-only trace steps.
//!
//! Thin I/O layer: it moves rows in and out and enforces nothing the database cannot
//! (the append-only and seal-once rules live in triggers, see `migrations/`). What a trace
//! *means* is decided by `runproof-proof`.

mod agents;
mod error;
mod runs;
mod schema;
mod secrets;
mod skills;
mod traces;

pub use agents::{Agent, NewAgent};
pub use error::StoreError;
pub use runs::{NewRun, Run, RunFinish};
pub use schema::{MigrationState, SchemaStatus};
pub use secrets::{SealedSecret, SecretInfo};
pub use skills::SkillRecord;
pub use traces::{StepRow, TraceRow};

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle on the RunProof database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects to `url`. Fails fast (seconds, not minutes) with an error that names the
    /// database and what to check when it cannot be reached.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::BadUrl(e.to_string()))?
            .application_name("runproof");
        let target = format!("{}:{}/{}", options.get_host(), options.get_port(), options.get_database().unwrap_or("?"));
        let unreachable = |reason: String| StoreError::Unreachable { target: target.clone(), reason };
        // One direct attempt first: a pool keeps retrying a refused connection until its
        // acquire timeout, which would make "database down" a slow answer.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())))?
            .map_err(|e| unreachable(one_line(&e.to_string())))?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| unreachable(one_line(&e.to_string())))?;
        Ok(Store { pool })
    }

    /// The underlying pool, for callers that stream rows (the coordinator).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection (lets a CLI exit promptly).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
