//! Where errors reach the wire: one mapping from domain errors to RFC 6749 §5.2 bodies and HTTP
//! statuses ([`ApiError`]), and for browser endpoints to pages or JSON ([`WebError`]). Clients
//! read a safe description; operators get the full chain in the log.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use latchkey_authz::AuthzError;
use latchkey_core::authorize::RedirectError;
use latchkey_core::authz::AuthzServiceError;
use latchkey_core::client_auth::PermissionError;
use latchkey_core::error::OAuthError;
use latchkey_core::oidc::BearerError;
use latchkey_proto::{ErrorCode, ErrorResponse};

use crate::web::page::{self, ErrorPage};
use crate::web::{self, Shape};

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

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        if let OAuthError::Permission(e) = e {
            return e.into();
        }
        let code = e.code();
        let status = match &e {
            OAuthError::Internal(source) => {
                tracing::error!(error = %source, detail = ?source, "internal error on an OAuth2 endpoint");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            OAuthError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            OAuthError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        let retry_after = match &e {
            OAuthError::Throttled { retry_after } | OAuthError::Unavailable { retry_after } => {
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

/// What went wrong on a browser endpoint (login, logout, CSRF, pages): the status is chosen
/// from it here, and the answer is a page or JSON as the request asked ([`Shape`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebErrorKind {
    /// Malformed or refused input: 400.
    BadRequest,
    /// No valid session, or a credential that is not accepted: 401.
    Unauthenticated,
    /// The CSRF check failed, or the caller may not do this: 403.
    Forbidden,
    /// Nothing here (or an unknown client, on pages that must not redirect): 404.
    NotFound,
    /// The body is larger than the endpoint takes: 413.
    TooLarge,
    /// The body did not arrive within the body timeout: 408.
    TimedOut,
    /// Too many sign-in attempts: 429 with `Retry-After`.
    Throttled { retry_after: i64 },
    /// The server has more work queued than it takes on: 503 with `Retry-After`.
    Busy { retry_after: i64 },
    /// A bug or a broken dependency; logged, never detailed to the caller: 500.
    Internal,
}

impl WebErrorKind {
    fn status(self) -> StatusCode {
        match self {
            WebErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            WebErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            WebErrorKind::Forbidden => StatusCode::FORBIDDEN,
            WebErrorKind::NotFound => StatusCode::NOT_FOUND,
            WebErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            WebErrorKind::TimedOut => StatusCode::REQUEST_TIMEOUT,
            WebErrorKind::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            WebErrorKind::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            WebErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 6749 `error` of the default JSON body.
    fn code(self) -> ErrorCode {
        match self {
            WebErrorKind::BadRequest
            | WebErrorKind::TooLarge
            | WebErrorKind::TimedOut
            | WebErrorKind::NotFound => ErrorCode::InvalidRequest,
            WebErrorKind::Unauthenticated | WebErrorKind::Forbidden => ErrorCode::AccessDenied,
            WebErrorKind::Throttled { .. } | WebErrorKind::Busy { .. } => {
                ErrorCode::TemporarilyUnavailable
            }
            WebErrorKind::Internal => ErrorCode::ServerError,
        }
    }

    /// The heading of the default error page.
    fn title(self) -> &'static str {
        match self {
            WebErrorKind::BadRequest => "This request cannot be handled",
            WebErrorKind::Unauthenticated => "Please sign in",
            WebErrorKind::Forbidden => "This request was refused",
            WebErrorKind::NotFound => "Not found",
            WebErrorKind::TooLarge => "This request is too large",
            WebErrorKind::TimedOut => "This request took too long to arrive",
            WebErrorKind::Throttled { .. } => "Too many attempts",
            WebErrorKind::Busy { .. } => "The server is busy",
            WebErrorKind::Internal => "Something went wrong",
        }
    }
}

/// An error on a browser endpoint. By default a JSON request gets RFC 6749's
/// `{"error", "error_description"}` and a page request the error page; an endpoint with its own
/// wire shape gives its body ([`WebError::with_json`]) or page ([`WebError::with_page`]).
#[derive(Debug)]
pub struct WebError {
    kind: WebErrorKind,
    /// Safe to show: never a secret, never whether an account exists.
    detail: String,
    shape: Shape,
    json: Option<serde_json::Value>,
    page: Option<String>,
}

impl WebError {
    pub fn new(kind: WebErrorKind, detail: impl Into<String>, shape: Shape) -> Self {
        WebError {
            kind,
            detail: detail.into(),
            shape,
            json: None,
            page: None,
        }
    }

    /// An internal error: `source` goes to the log, the caller learns nothing of it.
    pub fn internal(source: &dyn std::error::Error, shape: Shape) -> Self {
        tracing::error!(error = %source, detail = ?source, "internal error on a browser endpoint");
        WebError::new(WebErrorKind::Internal, "internal error", shape)
    }

    /// The JSON body to send instead of the RFC 6749 one.
    pub fn with_json(mut self, body: serde_json::Value) -> Self {
        self.json = Some(body);
        self
    }

    /// The page (already rendered) to send instead of the error page, e.g. a form with its error.
    pub fn with_page(mut self, html: String) -> Self {
        self.page = Some(html);
        self
    }

    pub fn kind(&self) -> WebErrorKind {
        self.kind
    }
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.kind.status();
        let mut response = match (self.shape, self.page, self.json) {
            (Shape::Json, _, Some(body)) => (status, Json(body)).into_response(),
            (Shape::Json, _, None) => (
                status,
                Json(ErrorResponse::new(self.kind.code(), self.detail)),
            )
                .into_response(),
            (Shape::Page(_), Some(html), _) => (status, Html(html)).into_response(),
            (Shape::Page(branding), None, _) => {
                let page = ErrorPage {
                    chrome: &branding,
                    title: self.kind.title(),
                    message: &self.detail,
                };
                match page::render(&page) {
                    Ok(html) => (status, html).into_response(),
                    Err(e) => {
                        tracing::error!(error = %e, "the error page did not render");
                        (status, self.detail).into_response()
                    }
                }
            }
        };
        let headers = response.headers_mut();
        web::headers::apply(headers);
        if let WebErrorKind::Throttled { retry_after } | WebErrorKind::Busy { retry_after } =
            self.kind
        {
            if let Ok(v) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}
