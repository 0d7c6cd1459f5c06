//! Runs: submit (queued for the workers), get, list, cancel, wait.

use crate::AppState;
use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult, Code};
use crate::json::ApiJson;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use runproof_proof::RunStatus;
use runproof_runner::{QueueOptions, RunRequest, parse_model};
use runproof_store::{CancelOutcome, Run};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// `POST /v1/runs`. No `tenant_id`: the token names the tenant.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    agent_id: String,
    goal: String,
    origin_system_id: String,
    /// A plan (the plan JSON object); else the agent's plan, else the goal's stub plan.
    #[serde(default)]
    plan: Option<Value>,
    #[serde(default)]
    idempotency_key: Option<String>,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    integrity_model: Option<String>,
}

pub const MAX_IDEMPOTENCY_KEY: usize = 255;

pub(crate) async fn run_json(s: &AppState, run: &Run) -> ApiResult<Value> {
    let mut v = serde_json::to_value(run).unwrap_or_default();
    if run.status == RunStatus::Failed.as_str()
        && let Some(next) = s.store.next_attempt(&run.id).await?
    {
        v["next_attempt"] = next.into();
    }
    Ok(v)
}

pub(crate) async fn tenant_run(s: &AppState, tenant: &str, run_id: &str) -> ApiResult<Run> {
    s.store
        .run_for_tenant(tenant, run_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {run_id}")))
}

pub async fn submit(
    State(s): State<AppState>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SubmitBody>,
) -> ApiResult<Response> {
    let header_key = match headers.get("idempotency-key") {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::new(Code::BadRequest, "Idempotency-Key must be text"))?
                .to_string(),
        ),
        None => None,
    };
    let key = match (header_key, body.idempotency_key) {
        (Some(h), Some(b)) if h != b => {
            return Err(ApiError::new(
                Code::BadRequest,
                "the Idempotency-Key header and the body's idempotency_key differ; send one",
            ));
        }
        (h, b) => h.or(b),
    };
    if let Some(k) = &key
        && (k.is_empty() || k.len() > MAX_IDEMPOTENCY_KEY)
    {
        return Err(ApiError::new(
            Code::BadRequest,
            format!("an idempotency key is 1 to {MAX_IDEMPOTENCY_KEY} bytes"),
        ));
    }
    if body.origin_system_id.trim().is_empty() || body.origin_system_id == "legacy-migration" {
        return Err(ApiError::new(
            Code::BadRequest,
            "origin_system_id must name the system this run comes from ('legacy-migration' is reserved)",
        ));
    }
    let integrity_model = match body.integrity_model.as_deref() {
        None => runproof_proof::IntegrityModel::HashChain,
        Some(m) => parse_model(m).ok_or_else(|| {
            ApiError::new(
                Code::BadRequest,
                format!("integrity_model {m:?}: use HASH_CHAIN or MERKLE_TREE"),
            )
        })?,
    };
    let plan_json = match body.plan {
        None | Some(Value::Null) => None,
        Some(p @ Value::Object(_)) => Some(p.to_string()),
        Some(_) => {
            return Err(ApiError::new(
                Code::BadRequest,
                "plan must be a plan object ({\"planner\": …, \"steps\": […]})",
            ));
        }
    };
    let req = RunRequest {
        agent_id: body.agent_id,
        tenant_id: tenant,
        origin_system_id: body.origin_system_id,
        goal: body.goal,
        plan_json,
        idempotency_key: key,
        integrity_model,
    };
    let submitted = s
        .runner
        .submit(
            &req,
            &QueueOptions {
                priority: body.priority,
            },
        )
        .await?;
    let status = if submitted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("/v1/runs/{}", submitted.run.id);
    let mut v = run_json(&s, &submitted.run).await?;
    v["created"] = submitted.created.into();
    Ok((status, [(header::LOCATION, location)], Json(v)).into_response())
}

pub async fn get(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    Path(run_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let run = tenant_run(&s, &t, &run_id).await?;
    Ok(Json(run_json(&s, &run).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default = "default_limit")]
    limit: i64,
}

fn default_limit() -> i64 {
    50
}

pub async fn list(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q.map_err(|e| ApiError::new(Code::BadRequest, e.body_text()))?;
    if !(1..=1000).contains(&q.limit) {
        return Err(ApiError::new(Code::BadRequest, "limit is 1 to 1000"));
    }
    let runs = s.store.list_runs(&t, q.limit).await?;
    Ok(Json(json!({"runs": runs})))
}

pub async fn cancel(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    Path(run_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let outcome = s
        .store
        .cancel_run(&t, &run_id, "cancelled before it started")
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {run_id}")))?;
    let run = tenant_run(&s, &t, &run_id).await?;
    let note = match outcome {
        CancelOutcome::Cancelled => "it had not started; it never will",
        CancelOutcome::Requested => {
            "it is running; its executor stops it at its next lease renewal and seals it as failed"
        }
        CancelOutcome::AlreadyEnded => "it had already ended; nothing changed",
    };
    Ok(Json(
        json!({"outcome": outcome, "note": note, "run": run_json(&s, &run).await?}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// Seconds to hold the request at most (default 30, at most the server's maximum).
    #[serde(default)]
    timeout: Option<f64>,
}

pub fn is_final(status: &str) -> bool {
    RunStatus::is_final_word(status)
}

/// Long-poll: answers when the run has ended, or when `timeout` runs out (`done: false`).
pub async fn wait(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    Path(run_id): Path<String>,
    q: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q.map_err(|e| ApiError::new(Code::BadRequest, e.body_text()))?;
    let timeout = match q.timeout {
        None => Duration::from_secs(30),
        Some(t) if t.is_finite() && t >= 0.0 => Duration::from_secs_f64(t),
        Some(_) => return Err(ApiError::new(Code::BadRequest, "timeout is seconds, >= 0")),
    }
    .min(s.max_wait);
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(20);
    loop {
        let run = tenant_run(&s, &t, &run_id).await?;
        let done = is_final(&run.status);
        if done || Instant::now() >= deadline {
            let mut v = json!({"done": done, "run": run_json(&s, &run).await?});
            if !done {
                v["note"] = "not ended yet; wait again".into();
            }
            return Ok(Json(v));
        }
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}
