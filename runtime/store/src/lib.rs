//! Postgres persistence for RunProof: schema migrations, agents, skills, runs, traces and
//! append-only trace steps.
//!
//! Thin I/O layer: it moves rows in and out and enforces nothing the database cannot
//! (the append-only and seal-once rules live in triggers, see `migrations/`). What a trace
//! *means* is decided by `runproof-proof`.

mod agents;
pub mod binary_copy;
mod db;
mod error;
mod evidence;
mod follow;
mod keys;
mod leases;
pub mod listen;
mod queue;
mod runs;
mod schema;
mod secrets;
mod skills;
mod tokens;
mod traces;

pub use agents::{Agent, NewAgent};
pub use db::Pooling;
pub use error::StoreError;
pub use evidence::{Evidence, STEP_COUNT_SQL, TRACE_ROWS_SQL, TraceEvidenceRow};
pub use keys::SigningKeyRow;
pub use leases::{LeaseHolder, LeaseState, RecoveredRun};
pub use queue::{CancelOutcome, ClaimedRun, Submission, Submitted};
pub use runs::{NewRun, Run, RunFinish};
pub use schema::{MigrationState, SchemaStatus};
pub use secrets::{SealedSecret, SecretInfo};
pub use skills::SkillRecord;
pub use tokens::{ApiToken, NewToken};
pub use traces::{COPY_FROM_ROWS, NewStep, TraceRow};

use db::Db;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle on the RunProof database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Db,
    /// Connections that only append trace steps, with `synchronous_commit = off`: a step
    /// batch's commit does not wait for its WAL to reach disk. Durability comes from the
    /// seal, which commits synchronously on `pool` after every batch of the trace has
    /// committed; flushing the seal's WAL flushes all WAL before it, so every step is on
    /// disk when a run is reported finished. A crash before the seal may lose the last
    /// batches, and the trace is then unsealed (never VERIFIED) either way; the one
    /// exception is a write-ahead batch (`append_steps(.., durable: true)`),
    /// committed on `pool` so the intent of a side effect is on disk before it happens.
    steps: Db,
    /// The URL as given (less the `pgbouncer` parameter), for a LISTEN connection.
    url: String,
}

impl Store {
    /// Connects to `url`. Fails fast (seconds, not minutes) with an error that names the
    /// database and what to check when it cannot be reached.
    ///
    /// `pgbouncer=transaction` in the URL's query (or `pgbouncer=true`, as other tools spell
    /// it) says a transaction-mode pooler is in between: see [`Pooling`]. `pgbouncer=session`
    /// is accepted and changes nothing (a session-mode pooler behaves like Postgres here).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let (url, pooling) = db::split_pooling(url)?;
        let options = PgConnectOptions::from_str(&url)
            .map_err(|e| StoreError::BadUrl(e.to_string()))?
            .application_name("runproof");
        let target = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("?")
        );
        let unreachable = |reason: String| StoreError::Unreachable {
            target: target.clone(),
            reason,
        };
        // One direct attempt first: a pool keeps retrying a refused connection until its
        // acquire timeout, which would make "database down" a slow answer.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())))?
            .map_err(|e| unreachable(one_line(&e.to_string())))?;
        let _ = probe.close().await;
        // `synchronous_commit = off` for step batches is set per transaction by the INSERT
        // itself (traces.rs), not as a startup parameter: poolers refuse `options`.
        let steps = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with(options.clone());
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| unreachable(one_line(&e.to_string())))?;
        Ok(Store {
            pool: Db {
                inner: pool,
                pooling,
            },
            steps: Db {
                inner: steps,
                pooling,
            },
            url,
        })
    }

    /// The underlying pool, for direct work the store does not wrap (`runtime bench`'s COPY
    /// baseline). Queries on it are not safe behind a transaction-mode pooler.
    pub fn pool(&self) -> &PgPool {
        &self.pool.inner
    }

    /// How this store reaches the database.
    pub fn pooling(&self) -> Pooling {
        self.pool.pooling
    }

    /// Closes every connection (lets a CLI exit promptly).
    pub async fn close(&self) {
        self.steps.close().await;
        self.pool.close().await;
    }
}

/// The one spelling of a time in a signed trace head, and of every column compared with it:
/// RFC 3339, UTC, six fractional digits (the precision Postgres keeps) and `Z`.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// `t` cut to whole microseconds: a time the runner signs must be the time Postgres stores.
pub fn whole_micros(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
