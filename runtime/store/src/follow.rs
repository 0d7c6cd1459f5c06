//! Reading a run's steps while it is being recorded (the API's step stream).

use crate::traces::StepDbRow;
use crate::{Store, StoreError};
use runproof_proof::StoredStep;

impl Store {
    /// The tenant's run's steps from `from` on (by `step_index`), at most `limit`, in order:
    /// what has been written so far. The run must be the tenant's.
    pub async fn steps_from(
        &self,
        tenant: &str,
        run_id: &str,
        from: i64,
        limit: i64,
    ) -> Result<Vec<StoredStep>, StoreError> {
        let rows = sqlx::query_as::<_, StepDbRow>(
            "SELECT s.trace_id, s.run_id, s.tenant_id, s.step_index, s.kind, s.skill_name, s.status,
                    s.duration_ms, s.cost_cents, s.payload, s.prev_hash, s.hash
             FROM aos_trace_steps s JOIN runs r ON r.id = s.run_id
             WHERE s.run_id = $1 AND r.tenant_id = $2 AND s.tenant_id = $2 AND s.step_index >= $3
             ORDER BY s.step_index, s.id
             LIMIT $4",
        )
        .bind(run_id)
        .bind(tenant)
        .bind(from)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(StoredStep::from).collect())
    }
}
