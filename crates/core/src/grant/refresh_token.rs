//! RFC 6749 §6 with rotation (OAuth 2.0 Security BCP §4.14): every use of a refresh token yields a
//! new one in the same family. A second use inside the grace window gets the same successor pair;
//! a use after it revokes the whole family. See docs/design/refresh-families.md.

use latchkey_proto::TokenRequest;

use super::{required, GrantKind};
use crate::client::Client;
use crate::error::OAuthError;
use crate::random::{ordered_id, secret_token};
use crate::request::AccessFormat;
use crate::scope::narrow;
use crate::secret::Secret;
use crate::store::{AccessTokenRow, Family, NewRefresh, Rotation, Store};
use crate::successor;
use crate::tokens::{AccessGrant, Issued, RequestContext, TokenService};
use crate::user::User;

const INVALID: &str = "refresh token is invalid, expired or revoked";

#[derive(Debug)]
pub struct RefreshTokenGrant {
    refresh_token: Secret,
    scope: Option<String>,
}

impl GrantKind for RefreshTokenGrant {
    const NAME: &'static str = "refresh_token";

    fn parse(req: TokenRequest) -> Result<Self, OAuthError> {
        Ok(RefreshTokenGrant {
            refresh_token: Secret::new(required(req.refresh_token, "refresh_token")?),
            scope: req.scope,
        })
    }

    async fn issue<S: Store>(
        self,
        tokens: &TokenService<S>,
        client: &Client,
        format: AccessFormat,
        ctx: RequestContext,
    ) -> Result<Issued, OAuthError> {
        tokens
            .refresh(
                client,
                self.refresh_token,
                self.scope.as_deref(),
                format,
                ctx.now,
            )
            .await
    }
}

impl<S: Store> TokenService<S> {
    async fn refresh(
        &self,
        client: &Client,
        presented: Secret,
        scope: Option<&str>,
        format: AccessFormat,
        now: i64,
    ) -> Result<Issued, OAuthError> {
        let hash = self.hasher.hash(presented.expose());
        // A lost race re-reads the row once: by then it holds the winner's successor.
        for _ in 0..2 {
            let row = self
                .store
                .refresh_token(&hash)
                .await?
                .ok_or(OAuthError::InvalidGrant(INVALID))?;
            if row.family.client_id != client.id || row.family_revoked {
                return Err(OAuthError::InvalidGrant(INVALID));
            }
            if let Some(rotated_at) = row.rotated_at {
                if now - rotated_at <= self.settings.refresh_grace {
                    return match &row.successor {
                        Some(sealed) => successor::open(&self.hasher, &presented, sealed),
                        // Its successor was itself rotated within the window, which forgot this
                        // pair: a race that lost twice, not a replay. Refuse this request only.
                        None => Err(OAuthError::InvalidGrant(INVALID)),
                    };
                }
                self.revoke_family(&row.family.id, now).await?;
                tracing::warn!(target: "audit", family = %row.family.id, client_id = %client.id,
                    "rotated refresh token reused after the grace window: family revoked");
                return Err(OAuthError::InvalidGrant(INVALID));
            }
            let family_over = row.family.expires_at.is_some_and(|e| e <= now);
            if row.expires_at <= now || family_over {
                return Err(OAuthError::InvalidGrant(INVALID));
            }
            let user = self
                .store
                .user_by_id(row.family.user_id)
                .await?
                .filter(|u| !u.disabled)
                .ok_or(OAuthError::InvalidGrant("this account is disabled"))?;
            let scopes = narrow(scope, &row.scopes)?;
            let pair =
                self.new_pair(client, &user, scopes, &row.scopes, format, &row.family, now)?;
            let sealed =
                successor::seal(&self.hasher, &presented, &pair.issued, self.random.as_ref())?;
            match self
                .store
                .rotate_refresh(&hash, now, &sealed, &pair.refresh, pair.access.as_ref())
                .await?
            {
                Rotation::Rotated => return Ok(pair.issued),
                Rotation::Lost => continue,
            }
        }
        Err(OAuthError::InvalidGrant(INVALID))
    }

    /// A new refresh family of `client` for `user`, not yet stored.
    pub(crate) fn new_family(&self, client: &Client, user: &User, now: i64) -> Family {
        Family {
            id: ordered_id(self.random.as_ref(), now),
            client_id: client.id.clone(),
            user_id: user.id,
            created_at: now,
            expires_at: self.settings.refresh_family_lifetime.map(|l| now + l),
        }
    }

    /// Stores `family` with an access token and its first refresh token (password and
    /// authorization_code grants).
    pub(crate) async fn start_family(
        &self,
        family: Family,
        client: &Client,
        user: &User,
        scopes: Vec<String>,
        format: AccessFormat,
        now: i64,
    ) -> Result<Issued, OAuthError> {
        let pair = self.first_pair(&family, client, user, scopes, format, now)?;
        self.store
            .start_family(&family, &pair.refresh, pair.access.as_ref())
            .await?;
        Ok(pair.issued)
    }

    /// The access token and first refresh token of `family`, not yet stored.
    pub(crate) fn first_pair(
        &self,
        family: &Family,
        client: &Client,
        user: &User,
        scopes: Vec<String>,
        format: AccessFormat,
        now: i64,
    ) -> Result<Pair, OAuthError> {
        let granted = scopes.clone();
        self.new_pair(client, user, scopes, &granted, format, family, now)
    }

    /// An access token with `scopes` and a refresh token that keeps the family's `granted` scopes
    /// (RFC 6749 §6: a new refresh token's scope is that of the one it replaces).
    #[allow(clippy::too_many_arguments)]
    fn new_pair(
        &self,
        client: &Client,
        user: &User,
        scopes: Vec<String>,
        granted: &[String],
        format: AccessFormat,
        family: &Family,
        now: i64,
    ) -> Result<Pair, OAuthError> {
        let access = self.mint_access(
            &AccessGrant {
                client,
                user,
                scopes: scopes.clone(),
                format,
                family_id: Some(family.id.clone()),
            },
            now,
        )?;
        let refresh_token = secret_token(self.random.as_ref());
        let lifetime = client
            .lifetimes
            .refresh
            .unwrap_or(self.settings.refresh_lifetime);
        let expires_at = match family.expires_at {
            Some(cap) => (now + lifetime).min(cap),
            None => now + lifetime,
        };
        let refresh = NewRefresh {
            hash: self.hasher.hash(refresh_token.expose()),
            family_id: family.id.clone(),
            scopes: granted.to_vec(),
            issued_at: now,
            expires_at,
            access_jti: access.jti,
            access_expires_at: access.expires_at,
        };
        Ok(Pair {
            issued: Issued {
                access_token: access.token,
                format,
                expires_in: access.expires_in,
                scopes,
                refresh_token: Some(refresh_token),
                id_token: None,
            },
            refresh,
            access: access.row,
        })
    }
}

/// A minted pair and the rows that store it.
pub(crate) struct Pair {
    pub(crate) issued: Issued,
    pub(crate) refresh: NewRefresh,
    pub(crate) access: Option<AccessTokenRow>,
}
