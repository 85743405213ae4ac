//! The errors an OAuth2 endpoint can end in. Each maps to exactly one RFC 6749 §5.2 code (in
//! [`OAuthError::code`]); what a client may read is the `Display` text, and operator detail stays
//! in the source chain.

use latchkey_proto::ErrorCode;

use crate::authorize::PkceError;
use crate::client_auth::PermissionError;
use crate::keys::KeyError;
use crate::password::PasswordError;
use crate::scope::ScopeError;
use crate::signin::SignInError;
use crate::store::StoreError;

/// An RFC 6749 §5.2 error, as every OAuth2 endpoint answers: the token endpoint's grants, client
/// authentication, introspection, revocation, userinfo. `code()` is its `error` value.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
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
    /// The server has more password checks queued than it will take on, or the database did not
    /// answer; nothing was done.
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

/// How long a client should wait when the database did not answer: a restarted database is
/// usually back, and the pool connected again, within a couple of seconds.
pub(crate) const DATABASE_RETRY_AFTER: i64 = 2;

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %e, "the database did not answer; the client may retry");
                OAuthError::Unavailable {
                    retry_after: DATABASE_RETRY_AFTER,
                }
            }
            e => OAuthError::Internal(e.into()),
        }
    }
}

impl From<KeyError> for OAuthError {
    fn from(e: KeyError) -> Self {
        OAuthError::Internal(e.into())
    }
}

impl From<latchkey_token::TokenError> for OAuthError {
    fn from(e: latchkey_token::TokenError) -> Self {
        OAuthError::Internal(e.into())
    }
}

impl From<PasswordError> for OAuthError {
    fn from(e: PasswordError) -> Self {
        OAuthError::Internal(e.into())
    }
}

impl From<SignInError> for OAuthError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::BadCredentials => OAuthError::InvalidGrant("invalid username or password"),
            SignInError::Throttled { retry_after } => OAuthError::Throttled { retry_after },
            SignInError::Busy { retry_after } => OAuthError::Unavailable { retry_after },
            SignInError::Internal(e) => OAuthError::Internal(e),
        }
    }
}

impl OAuthError {
    /// The RFC 6749 §5.2 `error` value.
    pub fn code(&self) -> ErrorCode {
        match self {
            OAuthError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            OAuthError::InvalidClient(_) => ErrorCode::InvalidClient,
            OAuthError::InvalidGrant(_) => ErrorCode::InvalidGrant,
            OAuthError::UnauthorizedClient(_) => ErrorCode::UnauthorizedClient,
            OAuthError::UnsupportedGrantType(_) => ErrorCode::UnsupportedGrantType,
            OAuthError::InvalidScope(_) => ErrorCode::InvalidScope,
            OAuthError::Permission(e) => e.code(),
            OAuthError::Pkce(PkceError::VerifierSyntax) => ErrorCode::InvalidRequest,
            OAuthError::Pkce(_) => ErrorCode::InvalidGrant,
            OAuthError::Throttled { .. } | OAuthError::Unavailable { .. } => {
                ErrorCode::TemporarilyUnavailable
            }
            OAuthError::Internal(_) => ErrorCode::ServerError,
        }
    }
}
