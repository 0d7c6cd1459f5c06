//! The endpoints. Paths and methods are listed once, here, and in `openapi.json` (a test
//! checks the two agree).

mod catalog;
mod proofs;
mod runs;
mod stream;

use crate::AppState;
use crate::error::{ApiError, Code};
use axum::Router;
use axum::routing::{MethodRouter, get, post};
use std::collections::BTreeMap;

/// Every (method, path) the API serves, in OpenAPI's path syntax.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/health"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/agents"),
    ("get", "/v1/agents/{agent_id}"),
    ("get", "/v1/skills"),
    ("get", "/v1/skills/{skill}"),
    ("get", "/v1/runs"),
    ("post", "/v1/runs"),
    ("get", "/v1/runs/{run_id}"),
    ("post", "/v1/runs/{run_id}/cancel"),
    ("get", "/v1/runs/{run_id}/wait"),
    ("get", "/v1/runs/{run_id}/steps"),
    ("get", "/v1/runs/{run_id}/proof"),
    ("get", "/v1/runs/{run_id}/bundle"),
    ("get", "/v1/runs/{run_id}/steps/{step}/inclusion"),
];

/// The handler of one entry of [`ROUTES`]. A route cannot be served without being listed
/// there (this is the only place handlers are attached), and a listed route without a
/// handler fails every test that builds the router.
fn handler(method: &str, path: &str) -> MethodRouter<AppState> {
    match (method, path) {
        ("get", "/v1/health") => get(catalog::health),
        ("get", "/v1/openapi.json") => get(catalog::openapi),
        ("get", "/v1/agents") => get(catalog::agents),
        ("get", "/v1/agents/{agent_id}") => get(catalog::agent),
        ("get", "/v1/skills") => get(catalog::skills),
        ("get", "/v1/skills/{skill}") => get(catalog::skill),
        ("get", "/v1/runs") => get(runs::list),
        ("post", "/v1/runs") => post(runs::submit),
        ("get", "/v1/runs/{run_id}") => get(runs::get),
        ("post", "/v1/runs/{run_id}/cancel") => post(runs::cancel),
        ("get", "/v1/runs/{run_id}/wait") => get(runs::wait),
        ("get", "/v1/runs/{run_id}/steps") => get(stream::steps),
        ("get", "/v1/runs/{run_id}/proof") => get(proofs::proof),
        ("get", "/v1/runs/{run_id}/bundle") => get(proofs::bundle),
        ("get", "/v1/runs/{run_id}/steps/{step}/inclusion") => get(proofs::inclusion),
        _ => panic!("no handler for {method} {path} listed in ROUTES"),
    }
}

pub fn routes() -> Router<AppState> {
    let mut by_path: BTreeMap<&str, MethodRouter<AppState>> = BTreeMap::new();
    for (method, path) in ROUTES {
        let h = handler(method, path);
        let merged = match by_path.remove(path) {
            Some(existing) => existing.merge(h),
            None => h,
        };
        by_path.insert(path, merged);
    }
    let mut router = Router::new();
    for (path, methods) in by_path {
        router = router.route(path, methods);
    }
    router
        .fallback(|| async {
            ApiError::new(
                Code::NotFound,
                "no such endpoint; GET /v1/openapi.json lists them",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                Code::MethodNotAllowed,
                "this endpoint does not take that method; GET /v1/openapi.json lists them",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::ROUTES;
    use std::collections::BTreeSet;

    /// The document kept in the repository (and served as is) describes exactly the routes
    /// the router serves: no undocumented endpoint, no documented endpoint missing.
    #[test]
    fn openapi_lists_exactly_the_served_routes() {
        let doc: serde_json::Value =
            serde_json::from_str(crate::OPENAPI_JSON).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..2]), Some("3."));
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path} documents no response"
                );
                documented.insert((method.clone(), path.clone()));
            }
        }
        let served: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(documented, served);
        // Every listed route has its handler (this panics otherwise).
        let _ = super::routes();
    }

    /// Every error code the API can return is in the document's ErrorCode enum.
    #[test]
    fn openapi_lists_every_error_code() {
        use crate::Code::*;
        let doc: serde_json::Value = serde_json::from_str(crate::OPENAPI_JSON).unwrap();
        let listed: BTreeSet<&str> =
            doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
                .as_array()
                .expect("Error.code enum")
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
        let all: BTreeSet<&str> = [
            BadRequest,
            Unauthorized,
            NotFound,
            MethodNotAllowed,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            Unprocessable,
            Internal,
            Unavailable,
        ]
        .iter()
        .map(|c| c.as_str())
        .collect();
        assert_eq!(listed, all);
    }
}
