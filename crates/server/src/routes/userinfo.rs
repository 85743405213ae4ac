//! `GET/POST /oauth2/userinfo` (OpenID Connect Core §5.3): who an access token of ours speaks
//! for, JWT or opaque, sent as `Authorization: Bearer <token>` (RFC 6750 §2.1; Open edX's `JWT`
//! scheme is accepted too). Core decides what is active and which claims the scopes allow.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_core::store::Store;

use crate::clock::now;
use crate::error::ApiError;
use crate::routes::no_store;
use crate::state::AppState;

pub async fn userinfo<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = bearer_token(&headers).ok_or_else(ApiError::bearer_required)?;
    let info = state.tokens.userinfo(token, now()).await?;
    Ok(no_store(Json(info).into_response()))
}

/// The token of an `Authorization: Bearer <token>` (or `JWT <token>`) header; the scheme is
/// case-insensitive (RFC 7235 §2.1).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let known = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("jwt");
    let token = token.trim();
    (known && !token.is_empty()).then_some(token)
}
