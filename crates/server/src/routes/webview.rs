//! `POST /oauth2/login/`: a mobile app's access token becomes a session cookie for its WebView, as
//! Open edX's `LoginWithAccessTokenView` (`204`; `401 {"error_code": ...}` otherwise). Which tokens
//! qualify is core's decision (`TokenService::webview_sign_in`). CSRF-exempt: no other site can
//! send the `Authorization` header. The session is a browser-session one: the app exchanges a
//! token again whenever it opens a WebView.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::store::Store;
use latchkey_core::webview::{AppToken, WebViewError};

use crate::clock::now;
use crate::error::{WebError, WebErrorKind};
use crate::extract::ClientIp;
use crate::state::AppState;
use crate::web::session::cookie_for;
use crate::web::{cookies, Shape};

fn refused(code: &'static str, message: &str) -> WebError {
    WebError::new(WebErrorKind::Unauthenticated, message, Shape::Json)
        .with_json(serde_json::json!({ "error_code": code, "developer_message": message }))
}

pub async fn login<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(AppToken::from_header);
    let Some(token) = token else {
        metrics::counter!("latchkey_logins_total", "method" => "webview", "outcome" => "no_token")
            .increment(1);
        return Err(refused(
            "invalid_token",
            "send the access token as Authorization: JWT <token>",
        ));
    };
    if let AppToken::Opaque(_) = token {
        metrics::counter!("latchkey_deprecated_opaque_tokens_total", "use" => "webview_login")
            .increment(1);
    }
    let now = now();
    let outcome = state.tokens.webview_sign_in(token, now).await;
    let label = match &outcome {
        Ok(_) => "success",
        Err(WebViewError::InvalidToken) => "invalid_token",
        Err(WebViewError::NonSupportedToken) => "non_supported_token",
        Err(WebViewError::AccountDisabled) => "account_disabled",
        Err(WebViewError::Internal(_)) => "error",
    };
    metrics::counter!("latchkey_logins_total", "method" => "webview", "outcome" => label)
        .increment(1);
    let who = match outcome {
        Ok(who) => who,
        Err(WebViewError::Internal(e)) => return Err(WebError::internal(&e, Shape::Json)),
        Err(e) => {
            tracing::info!(target: "audit", ip = ?ip, reason = label, "WebView sign-in refused");
            return Err(refused(label, &e.to_string()));
        }
    };
    let started = state
        .sessions
        .start(who, false, now)
        .await
        .map_err(|e| WebError::internal(&e, Shape::Json))?;
    tracing::info!(target: "audit", user_id = started.user.id.0, ip = ?ip, "WebView sign-in");
    let mut response = StatusCode::NO_CONTENT.into_response();
    cookies::append(response.headers_mut(), [cookie_for(&state.web, &started)]);
    Ok(response)
}
