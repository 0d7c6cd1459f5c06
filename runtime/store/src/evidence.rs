//! Read-only queries for the execution report: the seed plan's SQL, run verbatim, with
//! their results, plus the facts about the schema a reviewer asks for.

use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The seed plans' trace query, verbatim but for the bound run id (the columns of both
/// seeds: `trace_id` so each trace's steps can be counted by it).
pub const TRACE_ROWS_SQL: &str =
    "SELECT trace_id, run_id, tenant_id, started_at, status\nFROM aos_traces\nWHERE run_id = $1;";
/// The seed plans' step count, per trace (as the first seed counts it). Never per
/// `run_id`: rows copied under a run's id into another trace are not that run's steps.
pub const STEP_COUNT_SQL: &str =
    "SELECT COUNT(*) AS step_count\nFROM aos_trace_steps\nWHERE trace_id = $1;";

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TraceEvidenceRow {
    pub trace_id: String,
    pub run_id: String,
    pub tenant_id: String,
    pub started_at: DateTime<Utc>,
    pub status: String,
}

/// What the report states about the database itself.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub server_version: String,
    /// Newest applied migration: (version, description).
    pub latest_migration: Option<(i64, String)>,
    /// `runs.origin_system_id` column default (`None`: no default, as Fix A requires).
    pub origin_system_id_default: Option<String>,
    pub origin_trigger_present: bool,
    pub trace_rows: Vec<TraceEvidenceRow>,
    /// `STEP_COUNT_SQL` for each trace row: (trace_id, count).
    pub step_counts: Vec<(String, i64)>,
}

impl Store {
    pub async fn evidence(&self, run_id: &str) -> Result<Evidence, StoreError> {
        let server_version: String = sqlx::query_scalar("SELECT version()")
            .fetch_one(&self.pool)
            .await?;
        let latest_migration: Option<(i64, String)> = sqlx::query_as(
            "SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        let origin_system_id_default: Option<String> = sqlx::query_scalar(
            "SELECT column_default FROM information_schema.columns
             WHERE table_name = 'runs' AND column_name = 'origin_system_id'",
        )
        .fetch_optional(&self.pool)
        .await?
        .flatten();
        let origin_trigger_present: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'trg_runs_origin_system_not_legacy')",
        )
        .fetch_one(&self.pool)
        .await?;
        let trace_rows = sqlx::query_as::<_, TraceEvidenceRow>(TRACE_ROWS_SQL)
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        let mut step_counts = Vec::with_capacity(trace_rows.len());
        for row in &trace_rows {
            let n: i64 = sqlx::query_scalar(STEP_COUNT_SQL)
                .bind(&row.trace_id)
                .fetch_one(&self.pool)
                .await?;
            step_counts.push((row.trace_id.clone(), n));
        }
        Ok(Evidence {
            server_version,
            latest_migration,
            origin_system_id_default,
            origin_trigger_present,
            trace_rows,
            step_counts,
        })
    }
}
