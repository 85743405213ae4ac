//! The `application/x-www-form-urlencoded` body of an OAuth2 endpoint, parsed strictly: another
//! content type, a body that is not a form, or a parameter given twice (RFC 6749 §3.2) is
//! `invalid_request`.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use latchkey_proto::ErrorCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Larger bodies are refused before parsing; no OAuth2 request needs more.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

pub struct OAuthForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OAuthForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(ApiError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let body = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::InvalidRequest,
                    format!("the body is larger than {MAX_FORM_BYTES} bytes"),
                )
            }
            e if crate::http::timed_out(&e) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::InvalidRequest,
                "the body did not arrive in time",
            ),
            _ => ApiError::invalid_request("the body could not be read"),
        })?;
        serde_urlencoded::from_bytes(&body)
            .map(OAuthForm)
            .map_err(|e| ApiError::invalid_request(format!("malformed form body: {e}")))
    }
}
