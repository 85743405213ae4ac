//! `POST /oauth2/revoke_token` (RFC 7009).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use latchkey_core::store::Store;
use latchkey_proto::RevocationRequest;

use crate::clock::now;
use crate::error::ApiError;
use crate::extract::OAuthForm;
use crate::routes::authenticate;
use crate::state::AppState;

pub async fn revoke<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm<RevocationRequest>,
) -> Result<StatusCode, ApiError> {
    let client = authenticate(&state, &headers, form.client_id, form.client_secret).await?;
    let token = form
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid_request("missing token"))?;
    state.tokens.revoke(&client, &token, now()).await?;
    metrics::counter!("latchkey_revocations_total").increment(1);
    Ok(StatusCode::OK)
}
