use serde::{Deserialize, Serialize};

/// RFC 8414 authorization server metadata (also served as the OpenID Connect discovery document).
/// Only what Latchkey actually serves is listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// The issuer identifier: the `iss` of every token (RFC 8414 §2).
    pub issuer: String,
    /// The authorization endpoint's URL (RFC 6749 §3.1).
    pub authorization_endpoint: String,
    /// The token endpoint's URL.
    pub token_endpoint: String,
    /// The OpenID Connect UserInfo endpoint's URL.
    pub userinfo_endpoint: String,
    /// The JWK Set's URL: the keys tokens are verified with.
    pub jwks_uri: String,
    /// The revocation endpoint's URL (RFC 7009).
    pub revocation_endpoint: String,
    /// The introspection endpoint's URL (RFC 7662).
    pub introspection_endpoint: String,
    /// The `grant_type` values the token endpoint accepts.
    pub grant_types_supported: Vec<String>,
    /// The `response_type` values the authorization endpoint accepts.
    pub response_types_supported: Vec<String>,
    /// The PKCE methods the authorization endpoint accepts (RFC 8414 §2, RFC 7636).
    pub code_challenge_methods_supported: Vec<String>,
    /// The scopes clients may ask for.
    pub scopes_supported: Vec<String>,
    /// How clients may authenticate at the token endpoint (`client_secret_basic`, ...).
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// How clients may authenticate at the revocation endpoint.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// How clients may authenticate at the introspection endpoint.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// The JWS algorithms introspection answers may be signed with, when asked for as a JWT
    /// (RFC 9701 §7).
    pub introspection_signing_alg_values_supported: Vec<String>,
    /// The JWS algorithms tokens are signed with (OpenID Connect Discovery §3).
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// The subject identifier types (OpenID Connect Discovery §3), e.g. `public`.
    pub subject_types_supported: Vec<String>,
    /// The claims tokens may carry.
    pub claims_supported: Vec<String>,
}
