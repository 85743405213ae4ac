//! The errors a grant can end in. Each maps to exactly one RFC 6749 §5.2 code (in [`GrantError::code`]);
//! what a client may read is the `Display` text, and operator detail stays in the source chain.

use latchkey_proto::ErrorCode;

use crate::authorize::PkceError;
use crate::client_auth::PermissionError;
use crate::keys::KeyError;
use crate::password::PasswordError;
use crate::scope::ScopeError;
use crate::signin::SignInError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidClient(&'static str),
    #[error("{0}")]
    InvalidGrant(&'static str),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("unsupported grant_type {0:?}")]
    UnsupportedGrantType(String),
    #[error(transparent)]
    InvalidScope(#[from] ScopeError),
    #[error(transparent)]
    Permission(#[from] PermissionError),
    /// The code's PKCE binding does not hold (RFC 7636 §4.6).
    #[error(transparent)]
    Pkce(#[from] PkceError),
    #[error("too many sign-in attempts; retry in {retry_after} seconds")]
    Throttled { retry_after: i64 },
    /// The server has more password checks queued than it will take on; nothing was checked.
    #[error("the server is busy; retry in {retry_after} seconds")]
    Unavailable { retry_after: i64 },
    /// Never shown to clients beyond "internal error"; the source says what broke.
    #[error("internal error")]
    Internal(#[source] InternalError),
}

#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Token(#[from] latchkey_token::TokenError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("cannot seal or open a refresh successor")]
    Successor,
    #[error("a blocking task failed: {0}")]
    Blocking(String),
}

impl From<StoreError> for GrantError {
    fn from(e: StoreError) -> Self {
        GrantError::Internal(e.into())
    }
}

impl From<KeyError> for GrantError {
    fn from(e: KeyError) -> Self {
        GrantError::Internal(e.into())
    }
}

impl From<latchkey_token::TokenError> for GrantError {
    fn from(e: latchkey_token::TokenError) -> Self {
        GrantError::Internal(e.into())
    }
}

impl From<PasswordError> for GrantError {
    fn from(e: PasswordError) -> Self {
        GrantError::Internal(e.into())
    }
}

impl From<SignInError> for GrantError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::BadCredentials => GrantError::InvalidGrant("invalid username or password"),
            SignInError::Throttled { retry_after } => GrantError::Throttled { retry_after },
            SignInError::Busy { retry_after } => GrantError::Unavailable { retry_after },
            SignInError::Internal(e) => GrantError::Internal(e),
        }
    }
}

impl GrantError {
    /// The RFC 6749 §5.2 `error` value.
    pub fn code(&self) -> ErrorCode {
        match self {
            GrantError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            GrantError::InvalidClient(_) => ErrorCode::InvalidClient,
            GrantError::InvalidGrant(_) => ErrorCode::InvalidGrant,
            GrantError::UnauthorizedClient(_) => ErrorCode::UnauthorizedClient,
            GrantError::UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
            GrantError::InvalidScope(_) => ErrorCode::InvalidScope,
            GrantError::Permission(e) => e.code(),
            GrantError::Pkce(PkceError::VerifierSyntax) => ErrorCode::InvalidRequest,
            GrantError::Pkce(_) => ErrorCode::InvalidGrant,
            GrantError::Throttled { .. } | GrantError::Unavailable { .. } => {
                ErrorCode::TemporarilyUnavailable
            }
            GrantError::Internal(_) => ErrorCode::ServerError,
        }
    }
}
