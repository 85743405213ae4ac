//! `POST /oauth2/mint`: a service JWT for a user, for a client granted `token:mint` (what
//! `latchkey token mint` does, over HTTP); core decides who may and what the JWT carries.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_core::request::AccessFormat;
use latchkey_core::service_jwt::Mint;
use latchkey_core::store::Store;
use latchkey_proto::{MintRequest, TokenResponse};

use crate::clock::now;
use crate::error::ApiError;
use crate::extract::OAuthForm;
use crate::routes::{authenticate, no_store};
use crate::state::AppState;

pub async fn mint<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    OAuthForm(mut form): OAuthForm<MintRequest>,
) -> Result<Response, ApiError> {
    let body_id = form.client_id.take();
    let body_secret = form.client_secret.take();
    let mint = Mint::try_from(form)?;
    let result = async {
        let client = authenticate(&state, &headers, body_id, body_secret).await?;
        Ok::<_, ApiError>(state.tokens.mint_for_client(&client, mint, now()).await?)
    }
    .await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::counter!("latchkey_service_jwts_minted_total", "outcome" => outcome).increment(1);
    let minted = result?;
    // The token endpoint's shape (RFC 6749 §5.1), so a client reads it with the code it has.
    let body = TokenResponse {
        access_token: minted.token.expose().to_owned(),
        token_type: AccessFormat::Jwt.token_type().to_owned(),
        expires_in: minted.expires_in,
        scope: minted.scopes.join(" "),
        refresh_token: None,
        id_token: None,
    };
    Ok(no_store(Json(body).into_response()))
}
