//! Proofs: the verdict as `runtime proof --json` gives it (from `RunProofCoordinator`, with
//! the keys the server was told to trust), the offline bundle and inclusion proofs.

use crate::AppState;
use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult, Code};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use runproof_coordinator::{RunProofCoordinator, StepListing};
use serde::Deserialize;

fn coordinator(s: &AppState) -> RunProofCoordinator {
    RunProofCoordinator::new(s.store.clone()).trusting(s.trusted.as_ref().clone())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofQuery {
    /// `false`: leave out the step list (constant memory for any trace length).
    #[serde(default = "yes")]
    steps: bool,
}

fn yes() -> bool {
    true
}

fn json_body(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

pub async fn proof(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    Path(run_id): Path<String>,
    q: Result<Query<ProofQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = q.map_err(|e| ApiError::new(Code::BadRequest, e.body_text()))?;
    let listing = if q.steps {
        StepListing::Include
    } else {
        StepListing::Omit
    };
    let proof = coordinator(&s)
        .get_run_proof_with(&t, &run_id, listing)
        .await?;
    let text =
        serde_json::to_string(&proof).map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    Ok(json_body(text))
}

pub async fn bundle(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    Path(run_id): Path<String>,
) -> ApiResult<Response> {
    let bundle = coordinator(&s).export_bundle(&t, &run_id).await?;
    let disposition = format!("attachment; filename=\"{run_id}.bundle.json\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bundle.to_json(),
    )
        .into_response())
}

pub async fn inclusion(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    Path((run_id, step)): Path<(String, String)>,
) -> ApiResult<Response> {
    let step: u64 = step.parse().map_err(|_| {
        ApiError::new(
            Code::BadRequest,
            format!("step {step:?} is not a step_index (0, 1, …)"),
        )
    })?;
    let proof = coordinator(&s).inclusion_proof(&t, &run_id, step).await?;
    Ok(json_body(proof.to_json()))
}
