use serde::{Deserialize, Serialize};

/// `token_type` of a JWT access token, Open edX's (sent as `Authorization: JWT <token>`).
pub const TOKEN_TYPE_JWT: &str = "JWT";
/// `token_type` of an RFC 6750 bearer token (`Authorization: Bearer <token>`).
pub const TOKEN_TYPE_BEARER: &str = "Bearer";

/// The form body of `POST /oauth2/access_token` (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6), with the
/// Open edX additions `token_type` and `asymmetric_jwt`. Every field is optional on the wire; the
/// grant decides which it needs.
#[derive(Clone, Default, Deserialize)]
pub struct TokenRequest {
    /// The grant, e.g. `password`, `client_credentials`, `refresh_token`.
    pub grant_type: Option<String>,
    /// The client, when it authenticates in the body (RFC 6749 §2.3.1) or is public.
    pub client_id: Option<String>,
    /// The client's secret, when it authenticates in the body (RFC 6749 §2.3.1).
    pub client_secret: Option<String>,
    /// The user's username or email (password grant, RFC 6749 §4.3.2).
    pub username: Option<String>,
    /// The user's password (password grant).
    pub password: Option<String>,
    /// Space-separated scopes asked for (RFC 6749 §3.3).
    pub scope: Option<String>,
    /// The refresh token to redeem (RFC 6749 §6).
    pub refresh_token: Option<String>,
    /// The authorization code to redeem (RFC 6749 §4.1.3).
    pub code: Option<String>,
    /// The redirect URI the code was issued for (RFC 6749 §4.1.3).
    pub redirect_uri: Option<String>,
    /// The PKCE verifier of the code (RFC 7636 §4.5).
    pub code_verifier: Option<String>,
    /// The access token's form: `jwt` (in any case) for a JWT; absent or anything else for an
    /// opaque bearer token (Open edX's `token_type`).
    pub token_type: Option<String>,
    /// Accepted and ignored: Latchkey's JWTs are always asymmetric.
    pub asymmetric_jwt: Option<String>,
}

// Hand-written so that a password, secret or token never reaches a log through `{:?}`.
impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("scope", &self.scope)
            .field("token_type", &self.token_type)
            .finish_non_exhaustive()
    }
}

/// RFC 6749 §5.1 success body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// [`TOKEN_TYPE_JWT`] or [`TOKEN_TYPE_BEARER`]: the `Authorization` scheme to send it with.
    pub token_type: String,
    /// Seconds until the access token expires (RFC 6749 §5.1).
    pub expires_in: i64,
    /// The granted scopes, space-separated (RFC 6749 §3.3).
    pub scope: String,
    /// A refresh token, when the grant issues one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// An OpenID Connect ID token (OpenID Connect Core §3.1.3.3), when an authorization code
    /// granted the `openid` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}
