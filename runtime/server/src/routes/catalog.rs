//! What a tenant can look at besides runs: agents it may use, skills plans may name.

use crate::AppState;
use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

pub async fn health(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    s.store.ping().await?;
    Ok(Json(
        json!({"status": "ok", "pooling": s.store.pooling(), "version": env!("CARGO_PKG_VERSION")}),
    ))
}

pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::OPENAPI_JSON,
    )
}

/// The agents this tenant may run: its own and shared ones. Creating agents (which grant
/// network access and secrets) stays an operator action (`runtime agent create`).
pub async fn agents(State(s): State<AppState>, Tenant(t): Tenant) -> ApiResult<Json<Value>> {
    let agents = s.store.list_agents(Some(&t)).await?;
    Ok(Json(json!({"agents": agents})))
}

pub async fn agent(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    Path(agent_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let agent = s
        .store
        .agent_for_tenant(&agent_id, &t)
        .await
        .map_err(|e| match e {
            runproof_store::StoreError::NotFound { .. } => {
                ApiError::not_found(format!("agent {agent_id}"))
            }
            other => other.into(),
        })?;
    Ok(Json(serde_json::to_value(agent).unwrap_or_default()))
}

fn skill_json(s: &runproof_runner::LoadedSkillInfo) -> Value {
    json!({
        "name": s.name, "version": s.version, "description": s.description, "digest": s.digest,
        "builtin": s.builtin, "size_bytes": s.size_bytes, "capabilities": s.capabilities,
    })
}

pub async fn skills(State(s): State<AppState>, Tenant(_): Tenant) -> ApiResult<Json<Value>> {
    let mut out = Vec::new();
    for b in runproof_builtin_skills::BUILTIN_SKILLS {
        let info = s.runner.skill_info(b.name).await?;
        out.push(skill_json(&info));
    }
    for r in s.store.list_skills().await? {
        if r.builtin || out.iter().any(|v| v["digest"] == r.digest.as_str()) {
            continue;
        }
        out.push(json!({
            "name": r.name, "version": r.version, "description": r.description, "digest": r.digest,
            "builtin": false, "size_bytes": r.size_bytes, "capabilities": r.capabilities,
            "created_at": r.created_at,
        }));
    }
    Ok(Json(json!({"skills": out})))
}

/// One skill by name (built-in, else the newest added) or by digest.
pub async fn skill(
    State(s): State<AppState>,
    Tenant(_): Tenant,
    Path(skill): Path<String>,
) -> ApiResult<Json<Value>> {
    let is_digest = skill.len() == 64 && skill.bytes().all(|b| b.is_ascii_hexdigit());
    if is_digest {
        let Some(r) = s.store.skill_by_digest(&skill.to_ascii_lowercase()).await? else {
            return Err(ApiError::not_found(format!("skill {skill}")));
        };
        return Ok(Json(json!({
            "name": r.name, "version": r.version, "description": r.description, "digest": r.digest,
            "builtin": r.builtin, "size_bytes": r.size_bytes, "capabilities": r.capabilities,
            "created_at": r.created_at,
        })));
    }
    match s.runner.skill_info(&skill).await {
        Ok(info) => Ok(Json(skill_json(&info))),
        Err(runproof_runner::RunError::UnknownSkill(_)) => {
            Err(ApiError::not_found(format!("skill {skill}")))
        }
        Err(e) => Err(e.into()),
    }
}
