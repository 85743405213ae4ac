//! `POST /oauth2/introspect` (RFC 7662), for confidential clients granted the `introspect`
//! permission (resource servers, gateways); core decides who may ask.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_core::store::Store;
use latchkey_proto::IntrospectionRequest;

use crate::clock::now;
use crate::error::ApiError;
use crate::extract::OAuthForm;
use crate::routes::{authenticate, no_store};
use crate::state::AppState;

pub async fn introspect<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm<IntrospectionRequest>,
) -> Result<Response, ApiError> {
    let client = authenticate(&state, &headers, form.client_id, form.client_secret).await?;
    let token = form
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid_request("missing token"))?;
    let answer = state.tokens.introspect(&client, &token, now()).await?;
    if answer.token_type.as_deref() == Some(latchkey_proto::TOKEN_TYPE_BEARER) {
        metrics::counter!("latchkey_deprecated_opaque_tokens_total", "use" => "introspected")
            .increment(1);
    }
    // An answer describes a user's token: no cache between us and the resource server may keep it.
    Ok(no_store(Json(answer).into_response()))
}
