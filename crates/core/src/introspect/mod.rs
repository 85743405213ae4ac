//! RFC 7662 introspection and RFC 7009 revocation: what a resource server or a client learns about
//! a token, and how a client takes one back. The answer signed as a JWT (RFC 9701) is in `jwt.rs`.

mod cache;
mod jwt;

pub(crate) use cache::IntrospectionCache;

use latchkey_proto::{IntrospectionResponse, TOKEN_TYPE_BEARER, TOKEN_TYPE_JWT};
use latchkey_token::AccessClaims;

use crate::client::Permission;
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::notice::Change;
use crate::secret::TokenHash;
use crate::store::Store;
use crate::tokens::TokenService;
use crate::user::User;

const TOKEN_TYPE_REFRESH: &str = "refresh_token";

/// A compact JWS has exactly two dots; our opaque tokens and refresh tokens have none.
fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}

impl<S: Store> TokenService<S> {
    /// A JWT of ours that verifies now, whether or not it was revoked since.
    fn verified_jwt(&self, token: &str, now: i64) -> Option<AccessClaims> {
        let ring = self.keys.current();
        latchkey_token::verify::<AccessClaims>(token, &ring.verifying, &self.validation, now).ok()
    }

    /// Inactive for anything unknown, expired, revoked, or whose user is disabled. Answers for
    /// active access tokens are reused briefly (see `cache.rs` for what that trades).
    ///
    /// Only a client granted [`Permission::Introspect`] may ask: the answer names any user's
    /// tokens, whichever client they were issued to (RFC 7662 §4: the endpoint must not be open
    /// to token scanning, and a client that may introspect is trusted with every answer).
    #[tracing::instrument(skip_all, fields(client_id = %client.client().id))]
    pub async fn introspect(
        &self,
        client: &AuthenticatedClient,
        token: &str,
        now: i64,
    ) -> Result<IntrospectionResponse, OAuthError> {
        client.require(Permission::Introspect)?;
        let hash = self.hasher.hash(token);
        if let Some(answer) = self.introspected.get(&hash, now) {
            return Ok(answer);
        }
        let answer = self.introspect_stored(token, hash, now).await?;
        if answer.token_type.as_deref() != Some(TOKEN_TYPE_REFRESH) {
            self.introspected.keep(hash, &answer);
        }
        Ok(answer)
    }

    async fn introspect_stored(
        &self,
        token: &str,
        hash: TokenHash,
        now: i64,
    ) -> Result<IntrospectionResponse, OAuthError> {
        if looks_like_jwt(token) {
            let Some((claims, _)) = self.active_jwt(token, now).await? else {
                return Ok(IntrospectionResponse::inactive());
            };
            return Ok(IntrospectionResponse {
                active: true,
                scope: Some(claims.scopes.join(" ")),
                client_id: Some(claims.client_id),
                username: Some(claims.preferred_username),
                token_type: Some(TOKEN_TYPE_JWT.into()),
                exp: Some(claims.exp),
                iat: Some(claims.iat),
                sub: Some(claims.sub),
                aud: Some(claims.aud),
                iss: Some(claims.iss),
                jti: Some(claims.jti),
                email_verified: Some(claims.email_verified),
                is_restricted: Some(claims.is_restricted),
                filters: Some(claims.filters),
            });
        }
        if let Some((row, user)) = self.store.access_token(&hash).await? {
            if row.revoked || row.expires_at <= now || user.disabled {
                return Ok(IntrospectionResponse::inactive());
            }
            let client = self.client(&row.client_id).await?;
            return Ok(IntrospectionResponse {
                active: true,
                scope: Some(row.scopes.join(" ")),
                email_verified: Some(user.email_verified),
                is_restricted: client.as_ref().map(|c| c.restricted),
                filters: client.map(|c| c.token_filters()),
                client_id: Some(row.client_id),
                username: Some(user.username),
                token_type: Some(TOKEN_TYPE_BEARER.into()),
                exp: Some(row.expires_at),
                iat: Some(row.issued_at),
                sub: Some(user.sub),
                aud: Some(self.settings.audience.clone()),
                iss: Some(self.settings.issuer.clone()),
                jti: Some(row.jti),
            });
        }
        if let Some(row) = self.store.refresh_token(&hash).await? {
            let dead = row.family_revoked
                || row.rotated_at.is_some()
                || row.expires_at <= now
                || row.family.expires_at.is_some_and(|e| e <= now);
            if dead {
                return Ok(IntrospectionResponse::inactive());
            }
            let Some(user) = self
                .store
                .user_by_id(row.family.user_id)
                .await?
                .filter(|u| !u.disabled)
            else {
                return Ok(IntrospectionResponse::inactive());
            };
            return Ok(IntrospectionResponse {
                active: true,
                scope: Some(row.scopes.join(" ")),
                client_id: Some(row.family.client_id),
                username: Some(user.username),
                token_type: Some(TOKEN_TYPE_REFRESH.into()),
                exp: Some(row.expires_at),
                iat: Some(row.issued_at),
                sub: Some(user.sub),
                iss: Some(self.settings.issuer.clone()),
                ..IntrospectionResponse::default()
            });
        }
        Ok(IntrospectionResponse::inactive())
    }

    /// Revokes a refresh family and every token issued in it; the cached answers go too, since
    /// the family's access tokens are not known here by hash.
    pub(crate) async fn revoke_family(&self, family_id: &str, now: i64) -> Result<(), OAuthError> {
        self.store.revoke_family(family_id, now).await?;
        self.introspected.forget_all();
        Ok(())
    }

    /// Drops every cached introspection answer: after a signing key stopped being trusted, an
    /// answer cached for a token it signed must not outlive it.
    pub fn forget_introspections(&self) {
        self.introspected.forget_all();
    }

    /// Drops the cached rows and answers `change` made stale (a change notice, `crate::notice`).
    /// Introspection answers are not kept by user or client, so any change that can end a
    /// token drops them all; such changes are rare next to introspections.
    pub fn forget(&self, change: &Change) {
        self.directory.forget(change);
        if !matches!(change, Change::Authz) {
            self.introspected.forget_all();
        }
    }

    /// A JWT of ours that verifies now, is not revoked, and whose user is enabled: its claims
    /// and its user.
    async fn active_jwt(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<(AccessClaims, User)>, OAuthError> {
        let Some(claims) = self.verified_jwt(token, now) else {
            return Ok(None);
        };
        if self
            .store
            .is_jwt_revoked(&claims.jti, &claims.sub, claims.iat)
            .await?
        {
            return Ok(None);
        }
        let user = self
            .store
            .user_by_login(&claims.preferred_username)
            .await?
            .filter(|u| !u.disabled && u.sub == claims.sub);
        Ok(user.map(|u| (claims, u)))
    }

    /// The user and scopes of an access token of ours, JWT or opaque, that is active now (what
    /// introspection would answer `active` for; refresh tokens are not access tokens).
    pub(crate) async fn active_access(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<(User, Vec<String>)>, OAuthError> {
        if looks_like_jwt(token) {
            let found = self.active_jwt(token, now).await?;
            return Ok(found.map(|(claims, user)| (user, claims.scopes)));
        }
        let found = self.store.access_token(&self.hasher.hash(token)).await?;
        Ok(found
            .filter(|(row, user)| !row.revoked && row.expires_at > now && !user.disabled)
            .map(|(row, user)| (user, row.scopes)))
    }

    /// RFC 7009. A refresh token takes its whole family with it; an access token is marked revoked
    /// (a JWT by its `jti`). Unknown tokens and tokens of other clients change nothing and still
    /// succeed (§2.2), so revocation tells a client nothing about tokens that are not its own.
    #[tracing::instrument(skip_all, fields(client_id = %client.client().id))]
    pub async fn revoke(
        &self,
        client: &AuthenticatedClient,
        token: &str,
        now: i64,
    ) -> Result<(), OAuthError> {
        let client_id = &client.client().id;
        let hash = self.hasher.hash(token);
        if looks_like_jwt(token) {
            if let Some(claims) = self.verified_jwt(token, now) {
                if &claims.client_id == client_id {
                    self.store.revoke_jti(&claims.jti, claims.exp).await?;
                    self.introspected.forget(&hash);
                    tracing::info!(target: "audit", jti = %claims.jti, "access token revoked");
                }
            }
            return Ok(());
        }
        if let Some((row, _)) = self.store.access_token(&hash).await? {
            if &row.client_id == client_id {
                self.store.revoke_access_token(&hash).await?;
                self.introspected.forget(&hash);
                tracing::info!(target: "audit", jti = %row.jti, "access token revoked");
            }
            return Ok(());
        }
        if let Some(row) = self.store.refresh_token(&hash).await? {
            if &row.family.client_id == client_id {
                self.revoke_family(&row.family.id, now).await?;
                tracing::info!(target: "audit", family = %row.family.id, "refresh family revoked");
            }
        }
        Ok(())
    }
}
