//! `GET /v1/runs/{run_id}/steps`: the run's steps as they are recorded, as server-sent
//! events. Each step is an `event: step` whose `id` is its `step_index` (a client that
//! reconnects with `Last-Event-ID`, or `?from=N`, resumes after it) and whose data is the
//! step's columns plus its stored payload; `event: end` carries the run once it has ended
//! and every stored step was sent. Steps reach the stream once the trace writer has
//! written them (in batches), so "as recorded" means as durable in Postgres.

use crate::AppState;
use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult, Code};
use crate::routes::runs::{is_final, run_json, tenant_run};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

/// Rows read per round trip.
const PAGE: i64 = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// The first `step_index` to send (default 0).
    #[serde(default)]
    from: Option<i64>,
}

struct Follow {
    state: AppState,
    tenant: String,
    run_id: String,
    next: i64,
    ready: VecDeque<Event>,
    pause: Duration,
    ended: bool,
}

pub async fn steps(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let Query(q) = q.map_err(|e| ApiError::new(Code::BadRequest, e.body_text()))?;
    // Refused here, before the stream starts, so a wrong id is a plain JSON 404.
    tenant_run(&s, &t, &run_id).await?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|last| last + 1);
    let from = q.from.or(resume).unwrap_or(0).max(0);
    let follow = Follow {
        state: s,
        tenant: t,
        run_id,
        next: from,
        ready: VecDeque::new(),
        pause: Duration::from_millis(20),
        ended: false,
    };
    let events = stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(e) = f.ready.pop_front() {
                return Some((Ok(e), f));
            }
            if f.ended {
                return None;
            }
            if let Err(e) = f.fill().await {
                // The stream cannot carry a status any more: say it as an event and stop.
                f.ended = true;
                let data = serde_json::json!({"error": e.message, "code": e.code.as_str()});
                return Some((
                    Ok(Event::default().event("error").data(data.to_string())),
                    f,
                ));
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

impl Follow {
    /// Queues the next events, waiting (with back-off) while nothing new is stored.
    async fn fill(&mut self) -> ApiResult<()> {
        loop {
            // Read the run first: if it has ended now, every step it has is stored now too,
            // so the page read after it is complete.
            let run = tenant_run(&self.state, &self.tenant, &self.run_id).await?;
            let steps = self
                .state
                .store
                .steps_from(&self.tenant, &self.run_id, self.next, PAGE)
                .await?;
            let full_page = steps.len() as i64 == PAGE;
            for s in steps {
                self.next = s.step_index + 1;
                let payload: serde_json::Value =
                    serde_json::from_slice(&s.payload).unwrap_or(serde_json::Value::Null);
                let data = serde_json::json!({
                    "trace_id": s.trace_id, "step_index": s.step_index, "kind": s.kind,
                    "skill_name": s.skill_name, "status": s.status, "duration_ms": s.duration_ms,
                    "cost_cents": s.cost_cents, "hash": hex::encode(&s.hash),
                    "prev_hash": hex::encode(&s.prev_hash), "payload": payload,
                });
                self.ready.push_back(
                    Event::default()
                        .event("step")
                        .id(s.step_index.to_string())
                        .data(data.to_string()),
                );
            }
            if full_page {
                return Ok(());
            }
            if is_final(&run.status) {
                let data = run_json(&self.state, &run).await?;
                self.ready
                    .push_back(Event::default().event("end").data(data.to_string()));
                self.ended = true;
                return Ok(());
            }
            if !self.ready.is_empty() {
                self.pause = Duration::from_millis(20);
                return Ok(());
            }
            tokio::time::sleep(self.pause).await;
            self.pause = (self.pause * 2).min(Duration::from_millis(250));
        }
    }
}
