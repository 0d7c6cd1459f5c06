//! Per-invocation store data, and the host side of the `log` and `http` interfaces.

use crate::HostEvent;
use crate::bindings::runproof::skill::{http as wit_http, log as wit_log, types as wit_types};
use crate::http::{self, Deadline, HttpCaps, OutboundError, OutboundRequest};
use crate::limiter::Limiter;
use crate::limits::LimitHit;
use crate::policy::OutboundPolicy;
use crate::recorder::TraceRecorder as _;
use crate::recorder::WriteAhead;
use crate::reporter::Reporter;
use crate::secrets::SecretSet;
use crate::world::{HttpVia, World};
use base64::Engine as _;
use runproof_proof::{StepKind, StepStatus};
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::WasiHttpCtx;

/// Largest log message kept whole; longer ones are cut (and say so) to bound the trace.
const MAX_LOG_MESSAGE: usize = 16 * 1024;

pub(crate) struct SkillState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: Limiter,
    pub reporter: Reporter,
    pub policy: OutboundPolicy,
    /// The secrets this invocation may use by placeholder (empty: none).
    pub secrets: std::sync::Arc<SecretSet>,
    pub caps: HttpCaps,
    /// When the invocation must be over; HTTP timeouts are capped by it.
    pub deadline: tokio::time::Instant,
    /// Standard `wasi:http`, routed into the same outbound path (`wasi_http.rs`).
    pub wasi_http: WasiHttpState,
    /// Where host calls get their answers: the world, or a recorded trace (`world.rs`).
    pub world: std::sync::Arc<dyn World>,
    /// Scratch quotas and what this invocation has open (`fs_quota.rs`).
    pub fs: crate::scratch_quota::FsQuota,
}

/// The per-invocation `wasi:http` state kept in the store (`wasi_http.rs` serves the
/// interface through it).
#[derive(Default)]
pub(crate) struct WasiHttpState {
    pub ctx: WasiHttpCtx,
    /// The hooks, built on first use from the invocation's outbound context (set up before
    /// the guest runs, secrets included).
    pub hooks: Option<Outbound>,
}

impl WasiView for SkillState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl SkillState {
    /// Counts a host call; past the cap the skill is stopped (a trap), which the runner
    /// records as the step's failure reason.
    pub(crate) fn count_call(&mut self) -> wasmtime::Result<()> {
        if !self.reporter.meter.count() {
            let hit = LimitHit::HostCalls {
                limit: self.reporter.meter.max(),
            };
            let reason = hit.to_string();
            self.limiter.hit.get_or_insert(hit);
            return Err(wasmtime::format_err!("{reason}"));
        }
        Ok(())
    }

    /// Records `event`, then waits out the recorder's back-pressure. Takes the reporter by
    /// value: the store data is not `Sync`, so it must not be borrowed across the await.
    async fn record(reporter: Reporter, event: HostEvent) {
        reporter.recorder.record(&reporter.skill, event);
        reporter.recorder.backpressure().await;
    }
}

impl wit_types::Host for SkillState {}

impl wit_log::Host for SkillState {
    async fn log(&mut self, level: wit_log::Level, message: String) -> wasmtime::Result<()> {
        self.count_call()?;
        let level = match level {
            wit_log::Level::Trace => "trace",
            wit_log::Level::Debug => "debug",
            wit_log::Level::Info => "info",
            wit_log::Level::Warn => "warn",
            wit_log::Level::Error => "error",
        };
        let (message, cut) = truncate(&message, MAX_LOG_MESSAGE);
        let mut body = serde_json::json!({"level": level, "message": message});
        if cut > 0 {
            body["truncated_bytes"] = cut.into();
        }
        tracing::debug!(skill = %self.reporter.skill, level, "{message}");
        Self::record(
            self.reporter.clone(),
            HostEvent {
                kind: StepKind::HostLog,
                status: StepStatus::Success,
                duration_ms: None,
                body,
            },
        )
        .await;
        Ok(())
    }
}

impl wit_http::Host for SkillState {
    async fn send(
        &mut self,
        request: wit_http::Request,
    ) -> wasmtime::Result<Result<wit_http::Response, wit_http::HttpError>> {
        self.count_call()?;
        let req = OutboundRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            follow_redirects: request.follow_redirects,
        };
        let answer = send_recorded(self.outbound(), req, request.timeout_ms, INTERFACE_RUNPROOF)
            .await
            .map(|resp| wit_http::Response {
                status: resp.status,
                headers: resp.headers,
                body: resp.body,
            })
            .map_err(OutboundError::into_wit);
        Ok(answer)
    }
}

/// The `interface` of a `host.http` step made through `runproof:skill/http`.
pub(crate) const INTERFACE_RUNPROOF: &str = "runproof:skill/http";

/// What an outbound exchange needs from the invocation, owned, so an exchange can also run
/// on a task of its own (`wasi:http` does).
#[derive(Clone)]
pub(crate) struct Outbound {
    pub reporter: Reporter,
    pub policy: OutboundPolicy,
    pub secrets: std::sync::Arc<SecretSet>,
    pub caps: HttpCaps,
    pub deadline: tokio::time::Instant,
    pub world: std::sync::Arc<dyn World>,
}

impl SkillState {
    pub(crate) fn outbound(&self) -> Outbound {
        Outbound {
            reporter: self.reporter.clone(),
            policy: self.policy.clone(),
            secrets: self.secrets.clone(),
            caps: self.caps,
            deadline: self.deadline,
            world: self.world.clone(),
        }
    }
}

/// The one outbound path of both HTTP interfaces: the policy, secrets, caps and deadline
/// (`http::send`, which makes the request's `host.intent` durable just before it leaves),
/// then one `host.http` step for the exchange, denied or not. `interface`
/// names which interface the skill used; the rest of the step has the same shape for both.
/// The host call was counted by the caller.
pub(crate) async fn send_recorded(
    out: Outbound,
    req: OutboundRequest,
    timeout_ms: Option<u32>,
    interface: &'static str,
) -> Result<http::OutboundResponse, OutboundError> {
    let started = std::time::Instant::now();
    let timeout = timeout_ms
        .map(|ms| Duration::from_millis(ms.into()))
        .unwrap_or(http::DEFAULT_TIMEOUT);
    // The request's own timeout, capped by what is left of the invocation's deadline:
    // a slow server must not hold the skill (and the run) past it.
    let own = tokio::time::Instant::now() + timeout;
    let deadline = if own < out.deadline {
        let what = match timeout_ms {
            Some(ms) => format!("the request's timeout of {ms} ms"),
            None => format!("the default request timeout of {} ms", timeout.as_millis()),
        };
        Deadline { at: own, what }
    } else {
        Deadline {
            at: out.deadline,
            what: "the invocation's deadline".into(),
        }
    };
    // The request is recorded as the skill wrote it (placeholders, never values); the
    // response and any error come back already redacted. Before it leaves, its intent is
    // made durable (write-ahead: the live world hands `ahead` to `http::send`; a replay
    // commits it where the original did), as a `host.intent` step naming the same interface.
    let mut ahead = WriteAhead::new(&*out.reporter.recorder, &out.reporter.skill, interface);
    let via = HttpVia {
        policy: &out.policy,
        secrets: &out.secrets,
        caps: &out.caps,
        deadline: &deadline,
        ahead: &mut ahead,
    };
    let result = out.world.http(&req, via).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let mut body = serde_json::json!({"interface": interface, "request": req.to_json(&out.caps)});
    let status = match &result {
        Ok(resp) => {
            body["response"] = serde_json::json!({
                "status": resp.status,
                "headers": resp.headers,
                "body": crate::trace_caps::bytes_field(&resp.body),
                "hops": resp.hops.iter().map(|h| crate::trace_caps::text_field(h)).collect::<Vec<_>>(),
            });
            StepStatus::Success
        }
        Err(e) => {
            body["error"] = e.to_json();
            StepStatus::Failure
        }
    };
    SkillState::record(
        out.reporter,
        HostEvent {
            kind: StepKind::HostHttp,
            status,
            duration_ms: Some(duration_ms),
            body,
        },
    )
    .await;
    result
}

/// Bytes in a step body: text when they are UTF-8, else base64, so the recorded exchange is
/// exact either way.
pub(crate) fn bytes_json(b: &[u8]) -> serde_json::Value {
    match std::str::from_utf8(b) {
        Ok(s) => serde_json::json!({"text": s}),
        Err(_) => {
            serde_json::json!({"base64": base64::engine::general_purpose::STANDARD.encode(b)})
        }
    }
}

fn truncate(s: &str, max: usize) -> (&str, usize) {
    if s.len() <= max {
        return (s, 0);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], s.len() - end)
}
