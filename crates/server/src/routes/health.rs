//! Liveness (the process answers) and readiness (the database answers too).

use axum::extract::State;
use axum::http::StatusCode;
use latchkey_core::store::Store;

use crate::state::AppState;

pub async fn live() -> &'static str {
    "ok"
}

pub async fn ready<S: Store>(State(state): State<AppState<S>>) -> (StatusCode, &'static str) {
    match state.tokens.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
