use serde::{Deserialize, Serialize};

pub const TOKEN_TYPE_JWT: &str = "JWT";
pub const TOKEN_TYPE_BEARER: &str = "Bearer";

/// The form body of `POST /oauth2/access_token` (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6), with the
/// Open edX additions `token_type` and `asymmetric_jwt`. Every field is optional on the wire; the
/// grant decides which it needs.
#[derive(Clone, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub scope: Option<String>,
    pub refresh_token: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
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
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}
