use serde::{Deserialize, Serialize};

/// The parameters of `GET/POST /oauth2/authorize` (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID
/// Connect Core §3.1.2.1). Every field is optional on the wire: the server decides what a missing
/// one means, and which errors may be sent back to the client at all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    /// Must be `code`.
    pub response_type: Option<String>,
    /// The client asking.
    pub client_id: Option<String>,
    /// Where to send the user back; must equal one the client registered.
    pub redirect_uri: Option<String>,
    /// Space-separated scopes asked for (RFC 6749 §3.3).
    pub scope: Option<String>,
    /// Opaque to the server; returned as is with the code or the error.
    pub state: Option<String>,
    /// The PKCE challenge (RFC 7636 §4.2).
    pub code_challenge: Option<String>,
    /// The PKCE method: only `S256` is accepted.
    pub code_challenge_method: Option<String>,
    /// OpenID Connect: carried into the ID token unchanged.
    pub nonce: Option<String>,
}

/// The OpenID Connect UserInfo response (OpenID Connect Core §5.3.2), in the shape Open edX
/// services read: `preferred_username` always, the rest by the token's scopes (`email` with
/// `email`; names and `administrator` with `profile`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// The user's stable anonymous id.
    pub sub: String,
    /// The username.
    pub preferred_username: String,
    /// With scope `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// With scope `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Full name; with scope `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// With scope `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// With scope `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Staff flag; with scope `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub administrator: Option<bool>,
}
