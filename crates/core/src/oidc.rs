//! OpenID Connect basics: the ID token of an authorization code granted `openid` (Core §2,
//! §3.1.3.6) and the UserInfo answer (Core §5.3) for our access tokens, JWT or opaque, in the
//! shape Open edX services read.

use latchkey_proto::UserInfo;
use latchkey_token::IdClaims;

use crate::client::Client;
use crate::error::{InternalError, OAuthError};
use crate::scope::OPENID_SCOPE;
use crate::secret::Secret;
use crate::store::{CodeRow, Store, StoreError};
use crate::tokens::TokenService;
use crate::user::User;

/// Why a Bearer token is refused (RFC 6750 §3.1).
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("the access token is invalid, expired or revoked")]
    InvalidToken,
    #[error("internal error")]
    Internal(#[source] InternalError),
}

impl From<OAuthError> for BearerError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::Internal(e) => BearerError::Internal(e),
            _ => BearerError::InvalidToken,
        }
    }
}

impl From<StoreError> for BearerError {
    fn from(e: StoreError) -> Self {
        BearerError::Internal(e.into())
    }
}

impl<S: Store> TokenService<S> {
    /// The ID token for a code granted `openid`, else `None`. It is for the client (`aud` is its
    /// id), lives as long as the client's JWT access tokens, and carries the code's `nonce` and
    /// `auth_time`; identity claims follow the scopes as in access tokens.
    pub(crate) fn id_token(
        &self,
        client: &Client,
        user: &User,
        code: &CodeRow,
        now: i64,
    ) -> Result<Option<Secret>, OAuthError> {
        let has = |s: &str| code.scopes.iter().any(|x| x == s);
        if !has(OPENID_SCOPE) {
            return Ok(None);
        }
        let (email, profile) = (has("email"), has("profile"));
        let lifetime = client.lifetimes.jwt.unwrap_or(self.settings.jwt_lifetime);
        let claims = IdClaims {
            iss: self.settings.issuer.clone(),
            sub: user.sub.clone(),
            aud: client.id.clone(),
            exp: now + lifetime,
            iat: now,
            auth_time: code.auth_time,
            nonce: code.nonce.clone(),
            preferred_username: profile.then(|| user.username.clone()),
            email: email.then(|| user.email.clone()),
            email_verified: email.then_some(user.email_verified),
            name: profile.then(|| user.name.clone()),
            given_name: profile.then(|| user.given_name.clone()),
            family_name: profile.then(|| user.family_name.clone()),
        };
        Ok(Some(Secret::new(self.keys.signer().sign(&claims)?)))
    }

    /// OpenID Connect UserInfo for a Bearer access token of ours, JWT or opaque, that is active
    /// now (as introspection would say). `sub` and `preferred_username` always; `email` with the
    /// `email` scope; names and `administrator` with `profile` (what edx-drf-extensions'
    /// `BearerAuthentication` reads). No `openid` scope is required: Open edX's opaque tokens
    /// never carry it, and its services call this endpoint with them.
    pub async fn userinfo(&self, token: &str, now: i64) -> Result<UserInfo, BearerError> {
        let (user, scopes) = match self.active_access(token, now).await? {
            Some(found) => found,
            None => return Err(BearerError::InvalidToken),
        };
        let has = |s: &str| scopes.iter().any(|x| x == s);
        let (email, profile) = (has("email"), has("profile"));
        Ok(UserInfo {
            sub: user.sub.clone(),
            preferred_username: user.username.clone(),
            email: email.then(|| user.email.clone()),
            email_verified: email.then_some(user.email_verified),
            name: profile.then(|| user.name.clone()),
            given_name: profile.then(|| user.given_name.clone()),
            family_name: profile.then(|| user.family_name.clone()),
            administrator: profile.then_some(user.is_staff),
        })
    }
}
