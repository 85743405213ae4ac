//! CORS for the MFEs: the configured origins, matched exactly, may call with credentials (the
//! session and JWT cookies) and send `use-jwt-cookie`, `X-CSRFToken` and `Content-Type`. Any other
//! origin gets no CORS header at all, so browsers keep every answer from it; `*` is never sent
//! (browsers refuse it with credentials, and it would be wrong). Every answer says
//! `Vary: Origin`, so a cache never hands one origin's answer to another.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
    VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The origins allowed, as configured (`scheme://host[:port]`, checked at start-up).
#[derive(Clone, Debug, Default)]
pub struct CorsOrigins(Arc<[String]>);

impl CorsOrigins {
    pub fn new(origins: &[String]) -> Self {
        CorsOrigins(origins.iter().cloned().collect())
    }

    /// The request's `Origin`, when it is one of ours.
    fn allowed(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.0.iter().any(|o| o == text).then(|| origin.clone())
    }
}

/// The middleware (`axum::middleware::from_fn_with_state`): answers preflights from allowed
/// origins itself, and marks every other answer to an allowed origin as shareable.
pub async fn cors(State(origins): State<CorsOrigins>, request: Request, next: Next) -> Response {
    let allowed = origins.allowed(request.headers());
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = match (&allowed, preflight) {
        (Some(_), true) => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            let h = r.headers_mut();
            h.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            h.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("use-jwt-cookie, x-csrftoken, content-type"),
            );
            h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("3600"));
            r
        }
        _ => next.run(request).await,
    };
    let h = response.headers_mut();
    if let Some(origin) = allowed {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    h.append(VARY, HeaderValue::from_static("origin"));
    response
}
