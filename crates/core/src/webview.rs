//! `POST /oauth2/login/`: a mobile app turns its access token into a browser session for a
//! WebView, as Open edX's `LoginWithAccessTokenView`. Only a token from the password grant proves
//! that the user signed in to this very app with a password; any other (client credentials, an
//! authorization code given to a third party, a service JWT) must not become a first-party
//! session. `docs/design/browser-sessions.md` says why opaque Bearer tokens are accepted too.

use latchkey_token::AccessClaims;

use crate::client::GrantType;
use crate::error::InternalError;
use crate::session::Authenticated;
use crate::store::Store;
use crate::tokens::TokenService;
use crate::user::User;

/// The access token the app sent.
#[derive(Clone, Copy, Debug)]
pub enum AppToken<'a> {
    /// `Authorization: JWT <token>` (or `Bearer` with a JWT).
    Jwt(&'a str),
    /// `Authorization: Bearer <opaque token>`: deprecated, counted as such by the caller.
    Opaque(&'a str),
}

#[derive(Debug, thiserror::Error)]
pub enum WebViewError {
    /// Unknown, expired, revoked or not ours.
    #[error("the access token is invalid or expired")]
    InvalidToken,
    /// Ours and valid, but not from the password grant.
    #[error("only access tokens of the password grant are supported")]
    NonSupportedToken,
    /// The user is disabled or has no usable password (Open edX's `account_disabled`).
    #[error("the user account is disabled")]
    AccountDisabled,
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl From<crate::store::StoreError> for WebViewError {
    fn from(e: crate::store::StoreError) -> Self {
        WebViewError::Internal(e.into())
    }
}

/// A compact JWS has exactly two dots; our opaque tokens have none.
fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}

impl<'a> AppToken<'a> {
    /// The token of an `Authorization` header value (`JWT x` or `Bearer x`).
    pub fn from_header(value: &'a str) -> Option<AppToken<'a>> {
        let (scheme, token) = value.trim().split_once(' ')?;
        let token = token.trim();
        if token.is_empty() {
            return None;
        }
        if scheme.eq_ignore_ascii_case("jwt") {
            Some(AppToken::Jwt(token))
        } else if scheme.eq_ignore_ascii_case("bearer") {
            Some(if looks_like_jwt(token) {
                AppToken::Jwt(token)
            } else {
                AppToken::Opaque(token)
            })
        } else {
            None
        }
    }
}

impl<S: Store> TokenService<S> {
    /// Who may have a session for this app token. Checked in Open edX's order once the token is
    /// known to be ours and unexpired: the account, then revocation, then the grant. A disabled
    /// user's tokens were revoked with the account; the app is told `account_disabled` all the
    /// same, as Open edX tells it, so that it can say why. `auth_time` is the token's issue time,
    /// the latest moment the user is known to have been signed in to the app.
    pub async fn webview_sign_in(
        &self,
        token: AppToken<'_>,
        now: i64,
    ) -> Result<Authenticated, WebViewError> {
        let (user, revoked, password_grant, issued_at) = match token {
            AppToken::Jwt(jwt) => {
                let ring = self.keys.current();
                let claims: AccessClaims =
                    latchkey_token::verify(jwt, &ring.verifying, &self.validation, now)
                        .map_err(|_| WebViewError::InvalidToken)?;
                let user = self.user_of(&claims).await?;
                let revoked = self
                    .store
                    .is_jwt_revoked(&claims.jti, &claims.sub, claims.iat)
                    .await?;
                let password =
                    claims.grant_type == GrantType::Password.as_str() && claims.token_use.is_none();
                (user, revoked, password, claims.iat)
            }
            AppToken::Opaque(opaque) => {
                let Some((row, user)) = self.store.access_token(&self.hasher.hash(opaque)).await?
                else {
                    return Err(WebViewError::InvalidToken);
                };
                if row.expires_at <= now {
                    return Err(WebViewError::InvalidToken);
                }
                let client = self.client(&row.client_id).await?;
                let password = client.is_some_and(|c| c.grant_type == GrantType::Password);
                (user, row.revoked, password, row.issued_at)
            }
        };
        if user.disabled || user.password_hash.is_none() {
            return Err(WebViewError::AccountDisabled);
        }
        if revoked {
            return Err(WebViewError::InvalidToken);
        }
        if !password_grant {
            return Err(WebViewError::NonSupportedToken);
        }
        Ok(Authenticated::by_token(user, issued_at))
    }

    /// The user a JWT of ours names: by `user_id` when it carries one (every password-grant token
    /// does), else by `sub`, which no index serves, so such tokens are refused as not supported.
    async fn user_of(&self, claims: &AccessClaims) -> Result<User, WebViewError> {
        let Some(id) = claims.user_id else {
            return Err(WebViewError::NonSupportedToken);
        };
        match self.store.user_by_id(crate::user::UserId(id)).await? {
            Some(user) if user.sub == claims.sub => Ok(user),
            _ => Err(WebViewError::InvalidToken),
        }
    }
}
