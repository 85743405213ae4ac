//! One module per endpoint family.

pub mod authorize;
pub mod authz;
pub mod discovery;
pub mod health;
pub mod home;
pub mod introspect;
pub mod login;
pub mod login_refresh;
pub mod metrics;
pub mod mint;
pub mod revocations;
pub mod revoke;
pub mod token;
pub mod userinfo;
pub mod webview;

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::http::{header, HeaderMap, StatusCode};
use latchkey_core::client_auth::{AuthenticatedClient, ClientCredentials, PermissionError};
use latchkey_core::store::Store;
use latchkey_proto::ErrorCode;

use crate::error::ApiError;
use crate::extract::basic_credentials;
use crate::state::AppState;

/// RFC 6749 §2.3 client authentication from HTTP Basic or the body.
pub(crate) async fn authenticate<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    body_id: Option<String>,
    body_secret: Option<String>,
) -> Result<AuthenticatedClient, ApiError> {
    let basic = basic_credentials(headers)?;
    let used_basic = basic.is_some();
    let challenge = |e| ApiError::from(e).with_basic_challenge(used_basic);
    let creds = ClientCredentials::from_parts(basic, body_id, body_secret).map_err(challenge)?;
    state.tokens.authenticate(&creds).await.map_err(challenge)
}

/// Marks a response that carries tokens or facts about them as never to be cached (RFC 6749 §5.1).
pub(crate) fn no_store(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// How long a long poll (the authz change feed, the revocation feed) waits by default: under the
/// 30 s idle timeout of common proxies and load balancers, so the wait ends with an answer, not a
/// cut connection.
pub const DEFAULT_FEED_WAIT: Duration = Duration::from_secs(25);
/// The longest wait a poll may ask for, so a poll cannot hold a connection indefinitely.
pub const MAX_FEED_WAIT: Duration = Duration::from_secs(60);

/// The wait a poll asked for, in seconds, within [`MAX_FEED_WAIT`].
pub(crate) fn feed_wait(asked: Option<u64>) -> Duration {
    asked
        .map_or(DEFAULT_FEED_WAIT, Duration::from_secs)
        .min(MAX_FEED_WAIT)
}

/// A client authenticated by HTTP Basic, as the APIs for resource servers require (a public
/// client too: core refuses it as unauthenticated).
pub(crate) async fn basic_client<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<AuthenticatedClient, ApiError> {
    if !headers.contains_key(header::AUTHORIZATION) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidClient,
            "authenticate as a confidential client with HTTP Basic",
        )
        .with_basic_challenge(true));
    }
    authenticate(state, headers, None, None).await
}

/// Every caller of the resource-server APIs used HTTP Basic, so an unauthenticated one gets the
/// Basic challenge.
pub(crate) fn refused(e: PermissionError) -> ApiError {
    ApiError::from(e).with_basic_challenge(true)
}

pub(crate) fn bad_query(e: QueryRejection, expected: &str) -> ApiError {
    ApiError::invalid_request(format!("{}; {expected}", e.body_text()))
}
