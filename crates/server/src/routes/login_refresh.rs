//! `POST /login_refresh`: a live session gets fresh JWT cookies, as the LMS's `login_refresh`
//! answers frontend-platform when the payload cookie is about to expire. CSRF-exempt, as there:
//! it changes nothing but the caller's own cookies. Without a session: `401`, and the JWT cookies
//! are deleted so the MFE stops presenting a token its session no longer backs.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_core::store::Store;

use crate::clock::now;
use crate::error::{WebError, WebErrorKind};
use crate::state::AppState;
use crate::web::session::MaybeSession;
use crate::web::{cookies, jwt_cookies, Shape};

pub async fn refresh<S: Store>(
    State(state): State<AppState<S>>,
    MaybeSession(current): MaybeSession,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let shape = Shape::of(&headers, &state.web);
    let Some(current) = current else {
        metrics::counter!("latchkey_login_refresh_total", "outcome" => "no_session").increment(1);
        let mut response = WebError::new(
            WebErrorKind::Unauthenticated,
            "no valid session: sign in again",
            Shape::Json,
        )
        .into_response();
        cookies::append(response.headers_mut(), jwt_cookies::delete(&state.web));
        return Ok(response);
    };
    let now = now();
    let settings = &state.web.jwt_cookies;
    let jwt = state
        .tokens
        .session_jwt(
            &current.user,
            &settings.login_client_id,
            settings.lifetime,
            now,
        )
        .map_err(|e| WebError::internal(&e, shape))?;
    metrics::counter!("latchkey_login_refresh_total", "outcome" => "ok").increment(1);
    let mut response = Json(serde_json::json!({
        "success": true,
        "user_id": current.user.id.0,
        "expires_in": jwt.expires_in,
        "expires_epoch_seconds": jwt.expires_at,
        "response_epoch_seconds": now,
    }))
    .into_response();
    cookies::append(response.headers_mut(), jwt_cookies::set(&state.web, &jwt));
    Ok(response)
}
