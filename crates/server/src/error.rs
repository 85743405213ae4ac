//! Where errors reach the wire: one mapping from domain errors to RFC 6749 §5.2 bodies and HTTP
//! statuses. Clients read a safe description; operators get the full chain in the log.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_authz::AuthzError;
use latchkey_core::authorize::RedirectError;
use latchkey_core::authz::AuthzServiceError;
use latchkey_core::client_auth::PermissionError;
use latchkey_core::error::GrantError;
use latchkey_core::oidc::BearerError;
use latchkey_proto::{ErrorCode, ErrorResponse};

/// An error on an OAuth2 endpoint.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorResponse,
    retry_after: Option<i64>,
    /// `WWW-Authenticate`: after a failed HTTP Basic authentication (RFC 6749 §5.2) or a refused
    /// Bearer token (RFC 6750 §3).
    challenge: Option<&'static str>,
}

const BASIC_CHALLENGE: &str = "Basic realm=\"latchkey\"";
const BEARER_CHALLENGE: &str = "Bearer realm=\"latchkey\"";
const BEARER_INVALID: &str = "Bearer realm=\"latchkey\", error=\"invalid_token\"";

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, description: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorResponse::new(code, description),
            retry_after: None,
            challenge: None,
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
        if used_basic && self.body.error == ErrorCode::InvalidClient {
            self.challenge = Some(BASIC_CHALLENGE);
            self.status = StatusCode::UNAUTHORIZED;
        }
        self
    }

    /// A request to a Bearer-protected endpoint without a token: 401 with a challenge that names
    /// no error (RFC 6750 §3.1).
    pub fn bearer_required() -> Self {
        let mut e = ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            "a Bearer access token is required",
        );
        e.challenge = Some(BEARER_CHALLENGE);
        e
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
            challenge: None,
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

/// RFC 6750 §3.1: a refused token is 401 `invalid_token` with its challenge.
impl From<BearerError> for ApiError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::InvalidToken => {
                let mut out = ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::InvalidToken,
                    e.to_string(),
                );
                out.challenge = Some(BEARER_INVALID);
                out
            }
            BearerError::Internal(source) => {
                tracing::error!(error = %source, detail = ?source, "internal error on a Bearer endpoint");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::ServerError,
                    "internal error",
                )
            }
        }
    }
}

/// An authorization endpoint error for the client (RFC 6749 §4.1.2.1): the user goes back to the
/// client's verified redirect URI with `error=` and `state`, never to a page of ours.
#[derive(Debug)]
pub struct ClientRedirect(pub RedirectError);

impl IntoResponse for ClientRedirect {
    fn into_response(self) -> Response {
        found_at_client(&self.0.location())
    }
}

/// `302 Found` to `location` at a client: the answer of the authorization endpoint, with or
/// without a code (RFC 6749 §4.1.2). Nothing in it may be cached or leak through `Referer`.
pub fn found_at_client(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            headers.insert(header::LOCATION, v);
        }
        Err(_) => {
            tracing::error!("a client redirect URI is not a valid header value");
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ServerError,
                "internal error",
            )
            .into_response();
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
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
        if let Some(challenge) = self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}
