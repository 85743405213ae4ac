use serde::{Deserialize, Serialize};

/// RFC 6749 §5.2 error codes (and RFC 6750 §3.1 / RFC 7009 §2.2.1 additions Latchkey uses).
///
/// The registry of codes grows (RFC 6749 §11.4); more may be added here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed (unknown client, wrong secret, no authentication).
    InvalidClient,
    /// The grant (code, refresh token, user credentials) is invalid, expired or revoked, or was
    /// issued to another client.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The server does not support this grant type.
    UnsupportedGrantType,
    /// The scope asked for is invalid, unknown, or exceeds what may be granted.
    InvalidScope,
    /// The server cannot revoke tokens of this type (RFC 7009 §2.2.1).
    UnsupportedTokenType,
    /// The resource owner or the server refused (RFC 6749 §4.1.2.1).
    AccessDenied,
    /// The authorization endpoint does not support this `response_type` (RFC 6749 §4.1.2.1).
    UnsupportedResponseType,
    /// The access token is unknown, expired, revoked or malformed (RFC 6750 §3.1).
    InvalidToken,
    /// The server failed unexpectedly (RFC 6749 §4.1.2.1).
    ServerError,
    /// The server is overloaded or down for maintenance; try again later (RFC 6749 §4.1.2.1).
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The code as it appears on the wire, e.g. `"invalid_grant"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

/// The RFC 6749 §5.2 error body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error code.
    pub error: ErrorCode,
    /// Human-readable detail for the client's developer; never shown to end users as is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl ErrorResponse {
    /// An error with a description.
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        ErrorResponse {
            error,
            error_description: Some(description.into()),
        }
    }
}
