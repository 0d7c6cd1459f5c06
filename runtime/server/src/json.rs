//! The JSON body extractor: axum's, with its refusals in the API's error shape (a body over
//! the limit is 413, not JSON 415, malformed 400).

use crate::error::{ApiError, Code};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(refusal(rejection)),
        }
    }
}

fn refusal(r: JsonRejection) -> ApiError {
    let code = match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Code::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::UnsupportedMediaType,
        _ => Code::BadRequest,
    };
    let message = match code {
        Code::PayloadTooLarge => {
            "the request body is over the server's limit (`runtime serve --max-body`)".to_string()
        }
        Code::UnsupportedMediaType => {
            "the body must be JSON, sent with `Content-Type: application/json`".to_string()
        }
        _ => format!("the request body is not valid: {}", r.body_text()),
    };
    ApiError::new(code, message)
}
