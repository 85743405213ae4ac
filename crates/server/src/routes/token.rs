//! `POST /oauth2/access_token` (RFC 6749 §3.2).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_core::request::{AccessFormat, TokenGrant};
use latchkey_core::store::Store;
use latchkey_core::tokens::RequestContext;
use latchkey_proto::{TokenRequest, TokenResponse};

use crate::clock::now;
use crate::error::ApiError;
use crate::extract::{ClientIp, OAuthForm};
use crate::routes::{authenticate, no_store};
use crate::state::AppState;

pub async fn token<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    OAuthForm(mut form): OAuthForm<TokenRequest>,
) -> Result<Response, ApiError> {
    let body_id = form.client_id.take();
    let body_secret = form.client_secret.take();
    let header_type = headers.get("x-token-type").and_then(|v| v.to_str().ok());
    let grant = TokenGrant::parse(form, header_type)?;
    let grant_name = grant.grant.name();
    let result = async {
        let client = authenticate(&state, &headers, body_id, body_secret).await?;
        let ctx = RequestContext { now: now(), ip };
        Ok::<_, ApiError>(state.tokens.grant(&client, grant, ctx).await?)
    }
    .await;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::counter!("latchkey_token_requests_total", "grant" => grant_name, "outcome" => outcome)
        .increment(1);
    let issued = result?;
    if issued.format == AccessFormat::Opaque {
        metrics::counter!("latchkey_deprecated_opaque_tokens_total", "use" => "issued")
            .increment(1);
        tracing::debug!(target: "latchkey::deprecated", "opaque access token issued");
    }
    let body = TokenResponse {
        access_token: issued.access_token.expose().to_owned(),
        token_type: issued.format.token_type().to_owned(),
        expires_in: issued.expires_in,
        scope: issued.scopes.join(" "),
        refresh_token: issued.refresh_token.map(|r| r.expose().to_owned()),
        id_token: issued.id_token.map(|t| t.expose().to_owned()),
    };
    // RFC 6749 §5.1.
    Ok(no_store(Json(body).into_response()))
}
