//! Where errors reach the wire: one mapping from domain errors to RFC 6749 §5.2 bodies and HTTP
//! statuses. Clients read a safe description; operators get the full chain in the log.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_authz::AuthzError;
use latchkey_core::authz::AuthzServiceError;
use latchkey_core::client_auth::PermissionError;
use latchkey_core::error::GrantError;
use latchkey_proto::{ErrorCode, ErrorResponse};

/// An error on an OAuth2 endpoint.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorResponse,
    retry_after: Option<i64>,
    /// RFC 6749 §5.2: a failed HTTP Basic authentication answers 401 with a challenge.
    basic_challenge: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, description: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorResponse::new(code, description),
            retry_after: None,
            basic_challenge: false,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            description,
        )
    }

    /// Marks that the client tried HTTP Basic, so `invalid_client` answers 401 + `WWW-Authenticate`.
    pub fn with_basic_challenge(mut self, used_basic: bool) -> Self {
        self.basic_challenge = used_basic && self.body.error == ErrorCode::InvalidClient;
        if self.basic_challenge {
            self.status = StatusCode::UNAUTHORIZED;
        }
        self
    }
}

impl From<GrantError> for ApiError {
    fn from(e: GrantError) -> Self {
        if let GrantError::Permission(e) = e {
            return e.into();
        }
        let code = e.code();
        let status = match &e {
            GrantError::Internal(source) => {
                tracing::error!(error = %source, detail = ?source, "internal error on an OAuth2 endpoint");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            GrantError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            GrantError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            GrantError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        let retry_after = match &e {
            GrantError::Throttled { retry_after } | GrantError::Unavailable { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        };
        ApiError {
            status,
            body: ErrorResponse::new(code, e.to_string()),
            retry_after,
            basic_challenge: false,
        }
    }
}

/// A public client is not authenticated: 401, as RFC 6749 §5.2 answers `invalid_client`. A
/// confidential client without the permission is: 403, as RFC 6750 §3.1 answers a token without
/// the scope, so that a resource server's operator sees "not allowed", not "wrong secret".
impl From<PermissionError> for ApiError {
    fn from(e: PermissionError) -> Self {
        let status = match e {
            PermissionError::Public(_) => StatusCode::UNAUTHORIZED,
            PermissionError::Missing(_) => StatusCode::FORBIDDEN,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl From<AuthzError> for ApiError {
    fn from(e: AuthzError) -> Self {
        match e {
            AuthzError::Request(e) => ApiError::invalid_request(e.to_string()),
            AuthzError::Directory(source) => {
                tracing::error!(error = %source, detail = ?source, "authz staff look-up failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::ServerError,
                    "internal error",
                )
            }
        }
    }
}

impl From<AuthzServiceError> for ApiError {
    fn from(e: AuthzServiceError) -> Self {
        if e.is_input() {
            return ApiError::invalid_request(e.to_string());
        }
        tracing::error!(error = %e, detail = ?e, "internal error on the authz API");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        let headers = response.headers_mut();
        // RFC 6749 §5.1/§5.2: token responses and errors must not be cached.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        if self.basic_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"latchkey\""),
            );
        }
        response
    }
}
