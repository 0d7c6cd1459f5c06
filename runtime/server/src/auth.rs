//! Who is calling: the tenant named by the bearer token, and nothing the request says.

use crate::AppState;
use crate::error::{ApiError, Code};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

/// The tenant the request acts for, from its `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct Tenant(pub String);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = |why: &str| {
            ApiError::new(
                Code::Unauthorized,
                format!(
                    "{why}: send `Authorization: Bearer <token>` with a token from `runtime token create --tenant-id T`"
                ),
            )
        };
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Err(unauthorized("no bearer token"));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or_else(|| unauthorized("the Authorization header is not a bearer token"))?;
        match state.store.token_tenant(token).await? {
            Some(tenant) => Ok(Tenant(tenant)),
            None => Err(unauthorized("the bearer token is unknown or revoked")),
        }
    }
}
