//! Every error the API returns: `{"error": "<one line, naming the fix>", "code": "<code>"}`
//! with the status the code implies. One vocabulary, defined here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use runproof_coordinator::CoordinatorError;
use runproof_runner::RunError;
use runproof_store::StoreError;

/// The error codes of the API (the `code` field), each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 400: the request is malformed (bad JSON, a bad parameter).
    BadRequest,
    /// 401: no bearer token, or one that is unknown or revoked.
    Unauthorized,
    /// 404: no such endpoint, or no such run/agent/skill for this tenant.
    NotFound,
    /// 405: the endpoint exists, not with this method.
    MethodNotAllowed,
    /// 409: the resource is not in a state that allows this (e.g. an unsealed trace has no
    /// bundle).
    Conflict,
    /// 413: the request body is over the limit.
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422: well-formed, but refused (unknown skill, a plan that does not validate).
    Unprocessable,
    /// 500: our fault.
    Internal,
    /// 503: the database cannot be reached.
    Unavailable,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadRequest => "bad_request",
            Code::Unauthorized => "unauthorized",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::Conflict => "conflict",
            Code::PayloadTooLarge => "payload_too_large",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::Unprocessable => "unprocessable",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Code::BadRequest => StatusCode::BAD_REQUEST,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::Conflict => StatusCode::CONFLICT,
            Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: one_line(&message.into()),
        }
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        ApiError::new(Code::NotFound, format!("{what} not found"))
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.code == Code::Internal {
            tracing::error!("internal error: {}", self.message);
        }
        let body = serde_json::json!({"error": self.message, "code": self.code.as_str()});
        let mut response = (self.code.status(), axum::Json(body)).into_response();
        if self.code == Code::Unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::NotFound { .. } => Code::NotFound,
            StoreError::Rejected(_) => Code::Unprocessable,
            StoreError::Unreachable { .. } => Code::Unavailable,
            StoreError::SchemaBehind { .. } | StoreError::SchemaAhead { .. } => Code::Unavailable,
            StoreError::BadUrl(_) | StoreError::Migrate(_) | StoreError::Db(_) => Code::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<RunError> for ApiError {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Store(s) => s.into(),
            RunError::Plan(_)
            | RunError::UnknownSkill(_)
            | RunError::InvalidSkill { .. }
            | RunError::BadPolicy { .. }
            | RunError::UnsupportedModel(_) => ApiError::new(Code::Unprocessable, e.to_string()),
            other => ApiError::new(Code::Internal, other.to_string()),
        }
    }
}

impl From<CoordinatorError> for ApiError {
    fn from(e: CoordinatorError) -> Self {
        match e {
            CoordinatorError::Store(s) => s.into(),
            CoordinatorError::NotFound { .. } | CoordinatorError::NoSuchStep { .. } => {
                ApiError::new(Code::NotFound, e.to_string())
            }
            CoordinatorError::NotSealed { .. } | CoordinatorError::ManyTraces { .. } => {
                ApiError::new(Code::Conflict, e.to_string())
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
