//! `POST /oauth2/introspect` (RFC 7662), for confidential clients granted the `introspect`
//! permission (resource servers, gateways); core decides who may ask. A client that asks for
//! `application/token-introspection+jwt` gets the same answer signed as a JWT (RFC 9701).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_core::store::Store;
use latchkey_proto::{IntrospectionRequest, INTROSPECTION_JWT_MEDIA_TYPE};

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
    let now = now();
    let answer = state.tokens.introspect(&client, &token, now).await?;
    if answer.token_type.as_deref() == Some(latchkey_proto::TOKEN_TYPE_BEARER) {
        metrics::counter!("latchkey_deprecated_opaque_tokens_total", "use" => "introspected")
            .increment(1);
    }
    let response = if wants_jwt(&headers) {
        let jwt = state.tokens.sign_introspection(&client, answer, now)?;
        let media_type = HeaderValue::from_static(INTROSPECTION_JWT_MEDIA_TYPE);
        ([(header::CONTENT_TYPE, media_type)], jwt).into_response()
    } else {
        Json(answer).into_response()
    };
    // An answer describes a user's token: no cache between us and the resource server may keep it.
    Ok(no_store(response))
}

/// Whether `Accept` asks for the answer as a JWT (RFC 9701 §4): it names
/// `application/token-introspection+jwt` with a quality above 0 and no lower than that of
/// `application/json`, if that is named too. Anything else, no `Accept` included, gets JSON.
fn wants_jwt(headers: &HeaderMap) -> bool {
    let (mut jwt, mut json) = (0.0_f32, 0.0_f32);
    let ranges = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for range in ranges {
        let mut parts = range.split(';');
        let media_type = parts.next().unwrap_or_default().trim();
        let quality = parts
            .filter_map(|p| p.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, q)| q.trim().parse::<f32>().ok());
        // RFC 9110 §12.5.1: a range whose weight does not parse asks for nothing.
        let Some(quality) = quality else { continue };
        if media_type.eq_ignore_ascii_case(INTROSPECTION_JWT_MEDIA_TYPE) {
            jwt = jwt.max(quality);
        } else if media_type.eq_ignore_ascii_case("application/json") {
            json = json.max(quality);
        }
    }
    jwt > 0.0 && jwt >= json
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn only_an_accept_naming_the_jwt_type_gets_a_jwt() {
        for asks in [
            &["application/token-introspection+jwt"][..],
            &["Application/Token-Introspection+JWT"],
            &["application/json, application/token-introspection+jwt"],
            &["application/json;q=0.5, application/token-introspection+jwt;q=0.9"],
            &["text/plain", "application/token-introspection+jwt ; q=1"],
        ] {
            assert!(wants_jwt(&accept(asks)), "{asks:?}");
        }
        for asks in [
            &[][..],
            &["application/json"],
            &["*/*"],
            &["application/*"],
            &["application/jwt"],
            &["application/token-introspection+jwt;q=0"],
            &["application/token-introspection+jwt;q=0.5, application/json"],
            &["application/token-introspection+jwt;q=high"],
        ] {
            assert!(!wants_jwt(&accept(asks)), "{asks:?}");
        }
    }
}
