//! Run leases: who is executing a running run, and until when that claim holds.
//!
//! The executing process takes the lease when the run starts (`Store::start_run`), renews
//! it while it works (`renew_lease`) and gives it up when it seals (`finish_run` succeeds
//! only while the lease is still its own). `recover_lost_runs` fails every running run
//! whose lease has expired: the process that held it is gone (or cut off), and a run must
//! never stay `running` forever. Recovery never re-executes anything: side effects may
//! already have happened.

use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;

/// A claim on running runs: the holder's name and how long one renewal lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    /// `kind/detail`, e.g. `runner/myhost/4242/9f1c2a` for a `runtime run` process. The kind
    /// (the part before the first `/`) names the holder in a recovered run's error.
    pub owner: String,
    /// How long the lease holds without a renewal.
    pub ttl: Duration,
}

impl LeaseHolder {
    /// How often the holder should renew: three renewals per lease, so one slow round
    /// trip (or two) does not lose it.
    pub fn renew_every(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(50))
    }

    /// What a run lost by this holder says: "runner lost" for `runner/...`.
    pub fn kind(&self) -> &str {
        owner_kind(&self.owner)
    }

    pub(crate) fn ttl_ms(&self) -> i64 {
        i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX)
    }
}

fn owner_kind(owner: &str) -> &str {
    owner
        .split('/')
        .next()
        .filter(|k| !k.is_empty())
        .unwrap_or("runner")
}

/// A run that `recover_lost_runs` marked failed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RecoveredRun {
    pub run_id: String,
    pub tenant_id: String,
    pub lease_owner: Option<String>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub error_message: String,
}

/// A running run with no lease at all was started by a runtime older than leases; it is
/// given this long from its start before it counts as lost.
const LEGACY_RUN_GRACE: &str = "1 hour";

impl Store {
    /// Renews the lease on a running run. `Ok(false)`: the lease is no longer this holder's
    /// (the run was recovered, or finished): the holder must not seal it.
    pub async fn renew_lease(
        &self,
        run_id: &str,
        holder: &LeaseHolder,
    ) -> Result<bool, StoreError> {
        let renewed = sqlx::query(
            "UPDATE runs SET heartbeat_at = now(),
                    lease_expires_at = now() + make_interval(secs => $3::double precision / 1000)
             WHERE id = $1 AND status = 'running' AND lease_owner = $2",
        )
        .bind(run_id)
        .bind(&holder.owner)
        .bind(holder.ttl_ms())
        .execute(&self.pool)
        .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Marks failed every running run whose lease has expired, and returns them. Safe to
    /// call from any number of processes at once: each lost run is recovered exactly once
    /// (rows another recoverer holds are skipped). Traces are left unsealed: they are
    /// incomplete, and their proofs say so.
    pub async fn recover_lost_runs(&self) -> Result<Vec<RecoveredRun>, StoreError> {
        let sql = format!(
            "WITH lost AS (
                 SELECT id FROM runs
                 WHERE status = 'running'
                   AND COALESCE(lease_expires_at, started_at + interval '{LEGACY_RUN_GRACE}') < now()
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE runs r SET status = 'failed', completed_at = now(),
                 duration_ms = (EXTRACT(EPOCH FROM (now() - r.started_at)) * 1000)::bigint,
                 error_message = CASE
                     WHEN r.lease_owner IS NULL THEN 'runner lost (no lease recorded); trace left unsealed'
                     ELSE split_part(r.lease_owner, '/', 1) || ' lost (' || r.lease_owner || '); last heartbeat at '
                          || COALESCE(to_char(r.heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'never')
                          || '; trace left unsealed'
                 END
             FROM lost WHERE r.id = lost.id
             RETURNING r.id AS run_id, r.tenant_id, r.lease_owner, r.heartbeat_at, r.error_message"
        );
        Ok(sqlx::query_as::<_, RecoveredRun>(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_is_the_first_segment() {
        let h = |owner: &str| LeaseHolder {
            owner: owner.into(),
            ttl: Duration::from_secs(30),
        };
        assert_eq!(h("runner/host/1/ab").kind(), "runner");
        assert_eq!(h("worker/w-1").kind(), "worker");
        assert_eq!(h("/odd").kind(), "runner");
    }

    #[test]
    fn renewals_fit_three_times_in_a_lease() {
        let h = LeaseHolder {
            owner: "runner/x".into(),
            ttl: Duration::from_secs(30),
        };
        assert_eq!(h.renew_every(), Duration::from_secs(10));
        let tiny = LeaseHolder {
            owner: "runner/x".into(),
            ttl: Duration::from_millis(60),
        };
        assert_eq!(tiny.renew_every(), Duration::from_millis(50));
    }
}
