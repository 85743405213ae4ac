use serde::Deserialize;

/// The form body of `POST /oauth2/mint`: a client granted `token:mint` asks for a service JWT
/// for one user, named by `username` or by `user_id` (exactly one). The answer is a
/// [`TokenResponse`](crate::TokenResponse) without a refresh token.
#[derive(Clone, Default, Deserialize)]
pub struct MintRequest {
    /// The user's username, exactly as stored (Django usernames are case-sensitive).
    pub username: Option<String>,
    /// The user's numeric id (the JWT's `user_id`), in decimal.
    pub user_id: Option<String>,
    /// Space-separated scopes asked for (RFC 6749 §3.3); absent: `email profile`.
    pub scope: Option<String>,
    /// The lifetime asked for, in seconds; absent: the server's default for service JWTs.
    pub expires_in: Option<String>,
    /// The calling client, when it authenticates in the body (RFC 6749 §2.3.1).
    pub client_id: Option<String>,
    /// The calling client's secret, when it authenticates in the body.
    pub client_secret: Option<String>,
}

// Hand-written so that a secret never reaches a log through `{:?}`.
impl std::fmt::Debug for MintRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintRequest")
            .field("username", &self.username)
            .field("user_id", &self.user_id)
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}
