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
pub mod revoke;
pub mod token;
pub mod userinfo;
pub mod webview;

use axum::http::HeaderMap;
use latchkey_core::client_auth::{AuthenticatedClient, ClientCredentials};
use latchkey_core::store::Store;

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
