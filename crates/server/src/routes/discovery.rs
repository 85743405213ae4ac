//! `GET /oauth2/jwks.json` (RFC 7517) and the discovery documents (RFC 8414, OIDC Discovery).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use latchkey_core::store::Store;

use crate::state::AppState;

fn json(body: String, max_age: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(max_age));
    response
}

pub async fn jwks<S: Store>(State(state): State<AppState<S>>) -> Response {
    // Short enough that a rotation's next key reaches verifiers well before it signs.
    json(
        state.tokens.keys().current().jwks_json.to_string(),
        "public, max-age=300",
    )
}

pub async fn metadata<S: Store>(State(state): State<AppState<S>>) -> Response {
    json(state.discovery.to_string(), "public, max-age=3600")
}
