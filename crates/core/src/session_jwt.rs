//! The JWT a browser session hands the MFEs in two cookies (product.md "Cookies for MFEs"): the
//! token the password grant would give Open edX's login-service client, as the LMS's
//! `user_authn/cookies.py` mints it (scopes `user_id email profile`, grant type `password`, filter
//! `user:me`, asymmetric). It has no stored row and no refresh token: the session is what renews it
//! (`POST /login_refresh`), and nothing but its signature and lifetime is needed to check it.

use latchkey_token::AccessClaims;

use crate::client::USER_ME_FILTER;
use crate::error::OAuthError;
use crate::random::hex_id;
use crate::secret::Secret;
use crate::store::Store;
use crate::tokens::{identity_claims, TokenService};
use crate::user::{User, UserId};

/// A session JWT and when it expires.
#[derive(Debug)]
pub struct SessionJwt {
    pub token: Secret,
    pub expires_in: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Open edX creates the cookie JWT with exactly these scopes, whatever the client allows.
const SCOPES: [&str; 3] = ["user_id", "email", "profile"];

impl<S: Store> TokenService<S> {
    /// The JWT for `user`'s browser session, issued to `client_id` for `lifetime` seconds.
    pub fn session_jwt(
        &self,
        user: &User,
        client_id: &str,
        lifetime: i64,
        now: i64,
    ) -> Result<SessionJwt, OAuthError> {
        if user.disabled {
            return Err(OAuthError::InvalidGrant("the user is disabled"));
        }
        let mut claims = identity_claims(user, SCOPES.iter().map(|s| s.to_string()).collect());
        claims.iss = self.settings.issuer.clone();
        claims.aud = self.settings.audience.clone();
        claims.iat = now;
        claims.exp = now + lifetime;
        claims.jti = hex_id(self.random.as_ref(), 16);
        claims.filters = vec![USER_ME_FILTER.into()];
        claims.grant_type = "password".into();
        claims.client_id = client_id.to_owned();
        let token = self.keys.signer().sign(&claims)?;
        Ok(SessionJwt {
            token: Secret::new(token),
            expires_in: lifetime,
            expires_at: now + lifetime,
        })
    }

    /// Revokes the session JWT a browser presents when its user signs out, so that resource
    /// servers following the revocation feed drop it before it expires. Only a JWT of ours,
    /// issued to `client_id` for `user`, is touched; returns whether one was revoked. JWTs the
    /// session got before its last refresh are not known here and expire on their own.
    pub async fn revoke_session_jwt(
        &self,
        token: &str,
        user: UserId,
        client_id: &str,
        now: i64,
    ) -> Result<bool, OAuthError> {
        let ring = self.keys.current();
        let Ok(claims) =
            latchkey_token::verify::<AccessClaims>(token, &ring.verifying, &self.validation, now)
        else {
            return Ok(false);
        };
        if claims.client_id != client_id || claims.user_id != Some(user.0) {
            return Ok(false);
        }
        self.store.revoke_jti(&claims.jti, claims.exp).await?;
        self.introspected.forget(&self.hasher.hash(token));
        tracing::info!(target: "audit", user_id = user.0, jti = %claims.jti,
            "session JWT revoked at sign-out");
        Ok(true)
    }
}
