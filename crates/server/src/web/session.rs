//! The session a request's cookie names ([`MaybeSession`]), and the cookie that starts or ends
//! one. The cookie is `HttpOnly`, `SameSite=Lax`, `Secure` when the issuer is https, for this
//! host only.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use latchkey_core::session::{CurrentSession, NewSession};
use latchkey_core::store::Store;

use crate::clock::now;
use crate::error::WebError;
use crate::state::AppState;
use crate::web::{cookies, Shape, WebSettings};

/// The live session of the request, if its session cookie names one (not ended, not past either
/// limit, its user not disabled). A store failure is a 500, never "no session".
pub struct MaybeSession(pub Option<CurrentSession>);

impl<S: Store> FromRequestParts<AppState<S>> for MaybeSession {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        current(state, &parts.headers).await.map(MaybeSession)
    }
}

/// [`MaybeSession`] as a function, for handlers that read the headers themselves.
pub async fn current<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
) -> Result<Option<CurrentSession>, WebError> {
    let Some(value) = cookies::read(headers, &state.web.session_cookie_name) else {
        return Ok(None);
    };
    state
        .sessions
        .current(value, now())
        .await
        .map_err(|e| WebError::internal(&e, Shape::of(headers, &state.web)))
}

/// `Set-Cookie` for a session just started: a browser-session cookie unless remembered.
pub fn cookie_for(web: &WebSettings, session: &NewSession) -> Option<HeaderValue> {
    web.session_cookie()
        .set(session.cookie.expose(), session.max_age)
}

/// Ends the session the request's cookie names, if any (on logout, and before a new sign-in so
/// that a session id planted before it is worth nothing after).
pub async fn end<S: Store>(state: &AppState<S>, headers: &HeaderMap) -> Result<bool, WebError> {
    let Some(value) = cookies::read(headers, &state.web.session_cookie_name) else {
        return Ok(false);
    };
    state
        .sessions
        .end(value)
        .await
        .map_err(|e| WebError::internal(&e, Shape::of(headers, &state.web)))
}
