//! Why a request was refused ([`Rejection`]), and the one place that turns it into an HTTP
//! response: RFC 6750 §3 (`WWW-Authenticate: Bearer error="invalid_token", ...`), with a JSON body
//! in the RFC 6749 §5.2 shape or, optionally, the Open edX (Django REST framework) shape that the
//! mobile apps parse (`{"detail": "Token has expired."}`).

use std::fmt;

use axum::http::header::{CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::credentials::CredentialError;
use crate::csrf::CsrfFailure;

/// The shape of rejection bodies. The status and the `WWW-Authenticate` header are the same in
/// both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionStyle {
    /// `{"error": "invalid_token", "error_description": "the token has expired"}`; a malformed
    /// `Authorization` header is 400 `invalid_request` (RFC 6750 §3.1).
    #[default]
    Rfc6750,
    /// `{"detail": "Token has expired."}`, with the messages of edx-drf-extensions and Django
    /// REST framework; a malformed `Authorization` header is 401, as there.
    OpenEdx,
}

/// Why a token was not accepted (RFC 6750 §3.1 `invalid_token`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidToken {
    /// Not a JWS in compact form, bad base64url or JSON, or a JWT cookie pair that does not fit.
    Malformed,
    /// `exp` has passed, with the configured leeway.
    Expired,
    /// The signature does not verify.
    BadSignature,
    /// No published key has the token's `kid`, even after a refetch (or a refetch was not allowed
    /// yet: see `jwks_refetch_interval`).
    UnknownKey,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    WrongAudience,
    /// The `version` claim's major number is not the required one.
    WrongVersion,
    /// `iat` or `nbf` is in the future, beyond the leeway.
    NotYetValid,
    /// `alg` is not accepted by the configuration or does not match the key.
    UnsupportedAlgorithm,
    /// The payload lacks claims we need, or has them in the wrong shape.
    BadClaims,
    /// An opaque token that introspection says is not active (unknown, expired, revoked, not an
    /// access token, or for another audience).
    Inactive,
    /// An opaque token, and introspection is not configured.
    OpaqueNotAccepted,
    /// The revocation feed revoked the JWT, or its user's tokens issued before some instant
    /// (disabled, logged out everywhere, password changed).
    Revoked,
}

/// What went wrong, by category.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectionKind {
    /// No credential at all (RFC 6750 §3.1: no error code).
    MissingCredentials,
    /// The `Authorization` header cannot be read.
    InvalidRequest(CredentialError),
    /// The token is not acceptable.
    InvalidToken(InvalidToken),
    /// The token lacks this scope.
    InsufficientScope(String),
    /// The token has no filter of this kind (`content_org`, `user`) matching the resource.
    FilterMismatch(String),
    /// The user's email address is not verified and the route does not allow that.
    Unverified,
    /// The token's client is restricted and the route has not opted in.
    Restricted,
    /// A cookie-authenticated unsafe request without a matching CSRF header.
    Csrf(CsrfFailure),
    /// The authorization server says the user may not do this action in this scope (see
    /// [`AuthzClient::require`](crate::AuthzClient::require)). Not about the token: no challenge.
    NotPermitted,
    /// The keys or the introspection endpoint cannot be reached (and no usable cache is left).
    Unavailable,
    /// An extractor or `Require` ran without the guard's layer outside it: a bug of the service.
    NotConfigured,
}

/// A refused request. Handlers may return it too (`Result<_, Rejection>`), e.g. from
/// [`Authenticated::require_scope`](crate::Authenticated::require_scope).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    kind: RejectionKind,
    style: RejectionStyle,
}

impl Rejection {
    /// A rejection of this kind, answered in this style.
    pub fn new(kind: RejectionKind, style: RejectionStyle) -> Self {
        Rejection { kind, style }
    }

    /// What went wrong.
    pub fn kind(&self) -> &RejectionKind {
        &self.kind
    }

    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        match &self.kind {
            RejectionKind::MissingCredentials | RejectionKind::InvalidToken(_) => {
                StatusCode::UNAUTHORIZED
            }
            RejectionKind::InvalidRequest(_) => match self.style {
                RejectionStyle::Rfc6750 => StatusCode::BAD_REQUEST,
                RejectionStyle::OpenEdx => StatusCode::UNAUTHORIZED,
            },
            RejectionKind::InsufficientScope(_)
            | RejectionKind::FilterMismatch(_)
            | RejectionKind::Unverified
            | RejectionKind::Restricted
            | RejectionKind::Csrf(_)
            | RejectionKind::NotPermitted => StatusCode::FORBIDDEN,
            RejectionKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            RejectionKind::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 6750 / RFC 6749 error code, if the kind has one.
    fn error_code(&self) -> Option<&'static str> {
        match &self.kind {
            RejectionKind::MissingCredentials => None,
            RejectionKind::InvalidRequest(_) => Some("invalid_request"),
            RejectionKind::InvalidToken(_) => Some("invalid_token"),
            RejectionKind::InsufficientScope(_)
            | RejectionKind::FilterMismatch(_)
            | RejectionKind::Unverified
            | RejectionKind::Restricted => Some("insufficient_scope"),
            RejectionKind::Csrf(_) | RejectionKind::NotPermitted => Some("access_denied"),
            RejectionKind::Unavailable => Some("temporarily_unavailable"),
            RejectionKind::NotConfigured => Some("server_error"),
        }
    }

    /// A client-safe description in RFC 6750's `error_description` character set (no `"` or `\`).
    fn description(&self) -> String {
        match &self.kind {
            RejectionKind::MissingCredentials => {
                "authentication credentials were not provided".into()
            }
            RejectionKind::InvalidRequest(e) => e.to_string(),
            RejectionKind::InvalidToken(reason) => reason.description().into(),
            RejectionKind::InsufficientScope(scope) => {
                format!("the token lacks the scope {}", sanitize(scope))
            }
            RejectionKind::FilterMismatch(kind) => format!(
                "the token has no {} filter for this resource",
                sanitize(kind)
            ),
            RejectionKind::Unverified => "the user's email address is not verified".into(),
            RejectionKind::Restricted => "the token's client is restricted".into(),
            RejectionKind::Csrf(f) => format!("CSRF Failed: {}", f.reason()),
            RejectionKind::NotPermitted => "the user may not do this here".into(),
            RejectionKind::Unavailable => "the token cannot be checked right now".into(),
            RejectionKind::NotConfigured => "authentication is not configured".into(),
        }
    }

    /// The Open edX / Django REST framework `detail` message.
    fn detail(&self) -> String {
        match &self.kind {
            RejectionKind::MissingCredentials => {
                "Authentication credentials were not provided.".into()
            }
            RejectionKind::InvalidRequest(_) => {
                "Invalid Authorization header. No credentials provided.".into()
            }
            RejectionKind::InvalidToken(reason) => reason.open_edx_detail().into(),
            RejectionKind::InsufficientScope(_)
            | RejectionKind::FilterMismatch(_)
            | RejectionKind::Unverified
            | RejectionKind::Restricted
            | RejectionKind::NotPermitted => {
                "You do not have permission to perform this action.".into()
            }
            RejectionKind::Csrf(f) => format!("CSRF Failed: {}", f.reason()),
            RejectionKind::Unavailable => "Authentication is temporarily unavailable.".into(),
            RejectionKind::NotConfigured => "A server error occurred.".into(),
        }
    }

    /// RFC 6750 §3: the challenge, for 401 and for the 403s that are about the token.
    fn challenge(&self) -> Option<String> {
        let code = self.error_code();
        match &self.kind {
            RejectionKind::MissingCredentials => Some("Bearer".into()),
            RejectionKind::InvalidRequest(_)
            | RejectionKind::InvalidToken(_)
            | RejectionKind::FilterMismatch(_)
            | RejectionKind::Unverified
            | RejectionKind::Restricted => Some(format!(
                "Bearer error=\"{}\", error_description=\"{}\"",
                code.unwrap_or_default(),
                self.description()
            )),
            RejectionKind::InsufficientScope(scope) => Some(format!(
                "Bearer error=\"insufficient_scope\", error_description=\"{}\", scope=\"{}\"",
                self.description(),
                sanitize(scope)
            )),
            RejectionKind::Csrf(_)
            | RejectionKind::NotPermitted
            | RejectionKind::Unavailable
            | RejectionKind::NotConfigured => None,
        }
    }
}

impl InvalidToken {
    fn description(self) -> &'static str {
        match self {
            InvalidToken::Malformed => "the token is malformed",
            InvalidToken::Expired => "the token has expired",
            InvalidToken::BadSignature => "the token signature is invalid",
            InvalidToken::UnknownKey => "the token is signed with an unknown key",
            InvalidToken::WrongIssuer => "the token issuer is not accepted",
            InvalidToken::WrongAudience => "the token audience is not accepted",
            InvalidToken::WrongVersion => "the token version is not supported",
            InvalidToken::NotYetValid => "the token is not valid yet",
            InvalidToken::UnsupportedAlgorithm => "the token algorithm is not accepted",
            InvalidToken::BadClaims => "the token claims are invalid",
            InvalidToken::Inactive => "the token is not active",
            InvalidToken::OpaqueNotAccepted => "opaque tokens are not accepted",
            InvalidToken::Revoked => "token revoked",
        }
    }

    /// drf-jwt's messages, as edx-drf-extensions' `JwtAuthentication` raises them: PyJWT's
    /// `DecodeError` (bad form or signature), `ExpiredSignatureError`, any other
    /// `InvalidTokenError`.
    fn open_edx_detail(self) -> &'static str {
        match self {
            InvalidToken::Expired => "Token has expired.",
            InvalidToken::Malformed | InvalidToken::BadSignature => "Error decoding token.",
            _ => "Invalid token.",
        }
    }
}

/// Keeps a caller-chosen string inside an RFC 6750 quoted value (%x20-21 / %x23-5B / %x5D-7E).
fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|&c| c == ' ' || (c.is_ascii_graphic() && c != '"' && c != '\\'))
        .collect()
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description())
    }
}

impl std::error::Error for Rejection {}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body = match self.style {
            RejectionStyle::Rfc6750 => match self.error_code() {
                Some(code) => serde_json::json!({
                    "error": code,
                    "error_description": self.description(),
                }),
                None => serde_json::json!({ "error_description": self.description() }),
            },
            RejectionStyle::OpenEdx => serde_json::json!({ "detail": self.detail() }),
        };
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = self.challenge() {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.insert(WWW_AUTHENTICATE, value);
            }
        }
        // RFC 6750 §5.3 / RFC 9111: answers about credentials are not for shared caches.
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.kind == RejectionKind::Unavailable {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if self.kind == RejectionKind::NotConfigured {
            tracing::error!("latchkey-guard: an extractor ran without the guard layer outside it");
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(r: Rejection) -> (StatusCode, Option<String>) {
        let response = r.into_response();
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status(), challenge)
    }

    #[test]
    fn rfc6750_challenges() {
        let rfc = |kind| Rejection::new(kind, RejectionStyle::Rfc6750);
        assert_eq!(
            parts(rfc(RejectionKind::MissingCredentials)),
            (StatusCode::UNAUTHORIZED, Some("Bearer".into()))
        );
        assert_eq!(
            parts(rfc(RejectionKind::InvalidToken(InvalidToken::Expired))),
            (
                StatusCode::UNAUTHORIZED,
                Some(
                    "Bearer error=\"invalid_token\", error_description=\"the token has expired\""
                        .into()
                )
            )
        );
        let (status, challenge) = parts(rfc(RejectionKind::InsufficientScope(
            "grades:read\"x".into(),
        )));
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(challenge.unwrap().ends_with("scope=\"grades:readx\""));
        assert_eq!(
            parts(rfc(RejectionKind::InvalidRequest(
                CredentialError::DuplicateAuthorization
            )))
            .0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parts(rfc(RejectionKind::Csrf(CsrfFailure::TokenMissing))).1,
            None
        );
    }

    #[test]
    fn open_edx_details() {
        let edx = |kind| Rejection::new(kind, RejectionStyle::OpenEdx);
        assert_eq!(
            edx(RejectionKind::InvalidToken(InvalidToken::Expired)).detail(),
            "Token has expired."
        );
        assert_eq!(
            edx(RejectionKind::InvalidToken(InvalidToken::BadSignature)).detail(),
            "Error decoding token."
        );
        assert_eq!(
            edx(RejectionKind::InvalidToken(InvalidToken::WrongAudience)).detail(),
            "Invalid token."
        );
        assert_eq!(
            edx(RejectionKind::MissingCredentials).detail(),
            "Authentication credentials were not provided."
        );
        let malformed = edx(RejectionKind::InvalidRequest(
            CredentialError::MalformedAuthorization,
        ));
        assert_eq!(malformed.status(), StatusCode::UNAUTHORIZED);
    }
}
