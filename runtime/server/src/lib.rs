//! `runtime serve`: the RunProof HTTP API.
//!
//! The same operations as the CLI, for programs: agents and skills (read), runs (submit,
//! get, list, cancel, wait by long-poll, a server-sent-event stream of a run's steps as they
//! are recorded), the proof (JSON, as `runtime proof --json`), the offline bundle and
//! inclusion proofs. Every `/v1` endpoint but `health` and `openapi.json` needs a bearer
//! token (`runtime token create --tenant-id T`); the tenant is the token's, never the
//! request's, and another tenant's run is 404, like a missing one. Errors are JSON
//! `{error, code}` (`error.rs`). The OpenAPI document is `openapi.json` beside this crate,
//! served as is at `/v1/openapi.json`.
//!
//! Submitted runs are queued; workers execute them (`runtime worker`, or in this process
//! with `serve --workers N`, see `deploy.rs`).

mod auth;
mod deploy;
mod error;
mod json;
mod routes;

pub use deploy::{ServeOptions, serve};
pub use error::Code;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use runproof_proof::VerifyingKey;
use runproof_runner::Runner;
use runproof_store::Store;
use std::sync::Arc;
use std::time::Duration;

/// The OpenAPI document, exactly as kept in the repository.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Store,
    /// Checks submissions (agent, plan, skills) exactly as `runtime run --detach` does.
    pub(crate) runner: Arc<Runner>,
    /// Keys whose signatures proofs accept (as `runtime proof --trusted-key`).
    pub(crate) trusted: Arc<Vec<VerifyingKey>>,
    /// The longest a `wait` may hold a request.
    pub(crate) max_wait: Duration,
}

impl AppState {
    pub fn new(runner: Arc<Runner>, trusted: Vec<VerifyingKey>) -> AppState {
        AppState {
            store: runner.store().clone(),
            runner,
            trusted: Arc::new(trusted),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Every route, with its limits. `max_body` bounds every request body.
pub fn router(state: AppState, max_body: usize) -> Router {
    routes::routes()
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}
