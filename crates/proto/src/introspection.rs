use serde::{Deserialize, Serialize};

/// RFC 7662 §2.1 request body.
#[derive(Clone, Default, Deserialize)]
pub struct IntrospectionRequest {
    /// The token to introspect.
    pub token: Option<String>,
    /// `access_token` or `refresh_token`: where to look first (RFC 7662 §2.1).
    pub token_type_hint: Option<String>,
    /// The calling client, when it authenticates in the body.
    pub client_id: Option<String>,
    /// The calling client's secret, when it authenticates in the body.
    pub client_secret: Option<String>,
}

/// RFC 7009 §2.1 request body.
#[derive(Clone, Default, Deserialize)]
pub struct RevocationRequest {
    /// The token to revoke.
    pub token: Option<String>,
    /// `access_token` or `refresh_token`: where to look first (RFC 7009 §2.1).
    pub token_type_hint: Option<String>,
    /// The calling client, when it authenticates in the body.
    pub client_id: Option<String>,
    /// The calling client's secret, when it authenticates in the body.
    pub client_secret: Option<String>,
}

/// RFC 7662 §2.2 response. An inactive token is `{"active": false}` and nothing more.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntrospectionResponse {
    /// Whether the token is valid now; when `false`, no other member is set.
    pub active: bool,
    /// The token's scopes, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The username of the user the token was issued for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `JWT`, `Bearer` or `refresh_token`: what kind of token it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry, unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at, unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The user's stable anonymous id, as in the JWT's `sub`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The token's unique id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    // RFC 7662 §2.2 allows extension members: these are the Open edX facts a resource server
    // needs to apply the same policies to an opaque token as to a JWT.
    /// Whether the user's email address is verified (extension member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Whether the client is restricted (extension member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_restricted: Option<bool>,
    /// The client's filters, e.g. `content_org:MITx` (extension member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<String>>,
}

impl IntrospectionResponse {
    /// `{"active": false}`: the answer for any token that is not valid (RFC 7662 §2.2).
    pub fn inactive() -> Self {
        IntrospectionResponse::default()
    }
}

/// The media type a resource server names in `Accept` to ask for the answer as a signed JWT, and
/// the `Content-Type` of that answer (RFC 9701 §4, §5).
pub const INTROSPECTION_JWT_MEDIA_TYPE: &str = "application/token-introspection+jwt";

/// The JOSE header `typ` of an introspection answer signed as a JWT: its media type without
/// `application/` (RFC 9701 §5, RFC 7515 §4.1.9).
pub const INTROSPECTION_JWT_TYP: &str = "token-introspection+jwt";

/// The claims of an introspection answer signed as a JWT (RFC 9701 §5). The answer itself is
/// nested in `token_introspection`, so that its members (`iss`, `aud`, `exp`, `sub`, ...) describe
/// the introspected token and never the JWT; the JWT has no `exp` or `sub` of its own, so that it
/// cannot be mistaken for an access token (RFC 9701 §5, §8.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntrospectionJwtClaims {
    /// The issuer identifier of the server that answered.
    pub iss: String,
    /// The client that asked: the resource server this answer is for.
    pub aud: String,
    /// When the answer was made, unix seconds.
    pub iat: i64,
    /// The RFC 7662 answer, exactly as the JSON answer would carry it.
    pub token_introspection: IntrospectionResponse,
}

// Secrets in the request bodies must not reach logs through `{:?}`.
impl std::fmt::Debug for IntrospectionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionRequest")
            .field("token_type_hint", &self.token_type_hint)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RevocationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationRequest")
            .field("token_type_hint", &self.token_type_hint)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_inactive_answer_nests_as_active_false_alone() {
        let claims = IntrospectionJwtClaims {
            iss: "https://lms.example.com/oauth2".into(),
            aud: "gateway".into(),
            iat: 1_700_000_000,
            token_introspection: IntrospectionResponse::inactive(),
        };
        let json = serde_json::to_string(&claims).unwrap();
        assert_eq!(
            json,
            r#"{"iss":"https://lms.example.com/oauth2","aud":"gateway","iat":1700000000,"token_introspection":{"active":false}}"#
        );
        assert_eq!(
            serde_json::from_str::<IntrospectionJwtClaims>(&json).unwrap(),
            claims
        );
    }
}
