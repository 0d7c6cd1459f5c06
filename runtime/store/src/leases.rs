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
    /// The new attempt queued in its place, when its plan opted into one (`max_attempts`)
    /// and attempts were left. Never the same run again: a new run, with its own trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retried_as: Option<String>,
}

/// What a renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Still ours, renewed.
    Held,
    /// Still ours, renewed, and someone asked for the run to be cancelled.
    CancelRequested,
    /// No longer ours (recovered as lost, or finished): do not seal.
    Lost,
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

    /// `renew_lease`, also saying whether a cancel of the run was asked for.
    pub async fn renew_lease_state(
        &self,
        run_id: &str,
        holder: &LeaseHolder,
    ) -> Result<LeaseState, StoreError> {
        let cancel: Option<bool> = sqlx::query_scalar(
            "UPDATE runs SET heartbeat_at = now(),
                    lease_expires_at = now() + make_interval(secs => $3::double precision / 1000)
             WHERE id = $1 AND status = 'running' AND lease_owner = $2
             RETURNING cancel_requested_at IS NOT NULL",
        )
        .bind(run_id)
        .bind(&holder.owner)
        .bind(holder.ttl_ms())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match cancel {
            None => LeaseState::Lost,
            Some(true) => LeaseState::CancelRequested,
            Some(false) => LeaseState::Held,
        })
    }

    /// Marks failed every running run whose lease has expired, and returns them. Safe to
    /// call from any number of processes at once: each lost run is recovered exactly once
    /// (rows another recoverer holds are skipped). Traces are left unsealed: they are
    /// incomplete, and their proofs say so.
    ///
    /// A lost run whose plan opted into more attempts (`runs.max_attempts`, from the plan's
    /// `max_attempts`) and has attempts left gets a new attempt, in the same transaction: a
    /// new queued run (`parent_run_id` = the lost one) that will have its own trace. The
    /// lost run's error names it.
    pub async fn recover_lost_runs(&self) -> Result<Vec<RecoveredRun>, StoreError> {
        let sql = format!(
            "WITH lost AS (
                 SELECT id, CASE WHEN attempts < max_attempts THEN gen_random_uuid()::text END AS retry_id
                 FROM runs
                 WHERE status = 'running'
                   AND COALESCE(lease_expires_at, started_at + interval '{LEGACY_RUN_GRACE}') < now()
                 FOR UPDATE SKIP LOCKED
             ),
             failed AS (
                 UPDATE runs r SET status = 'failed', completed_at = now(),
                     duration_ms = (EXTRACT(EPOCH FROM (now() - r.started_at)) * 1000)::bigint,
                     error_message = CASE
                         WHEN r.lease_owner IS NULL THEN 'runner lost (no lease recorded); trace left unsealed'
                         ELSE split_part(r.lease_owner, '/', 1) || ' lost (' || r.lease_owner || '); last heartbeat at '
                              || COALESCE(to_char(r.heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'never')
                              || '; trace left unsealed'
                     END || COALESCE('; attempt ' || r.attempts || ' of ' || r.max_attempts
                                     || ', a new attempt is queued as run ' || lost.retry_id, '')
                 FROM lost WHERE r.id = lost.id
                 RETURNING r.*, lost.retry_id
             ),
             retried AS (
                 INSERT INTO runs (id, agent_id, tenant_id, origin_system_id, goal, plan_json, parent_run_id,
                                   priority, attempts, max_attempts, integrity_model)
                 SELECT f.retry_id, f.agent_id, f.tenant_id, f.origin_system_id, f.goal, f.plan_json, f.id,
                        f.priority, f.attempts, f.max_attempts, f.integrity_model
                 FROM failed f WHERE f.retry_id IS NOT NULL
                 RETURNING id
             )
             SELECT f.id AS run_id, f.tenant_id, f.lease_owner, f.heartbeat_at, f.error_message,
                    (SELECT rt.id FROM retried rt WHERE rt.id = f.retry_id) AS retried_as
             FROM failed f"
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
