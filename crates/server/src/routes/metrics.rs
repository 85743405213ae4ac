//! `GET /metrics` in the Prometheus text format.

use axum::extract::State;
use axum::http::StatusCode;
use latchkey_core::store::Store;

use crate::state::AppState;

pub async fn render<S: Store>(State(state): State<AppState<S>>) -> (StatusCode, String) {
    match &state.metrics {
        Some(handle) => (StatusCode::OK, handle.render()),
        None => (StatusCode::NOT_FOUND, "metrics are disabled".into()),
    }
}
