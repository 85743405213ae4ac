//! RFC 6749 §4.1.3: a code from the authorization endpoint, exchanged by the client it was issued
//! to, with the same redirect URI and (RFC 7636) the PKCE verifier of its challenge. Yields an
//! access token, the first refresh token of a new family, and with `openid` an ID token.
//!
//! The code is read (with its user, in one round trip), checked, and only then redeemed: one
//! transaction takes it with a compare-and-swap and stores the family it starts, so a request
//! that fails a check changes nothing, of two exchanges of one code exactly one wins, and whoever
//! sees the code used also finds its family: a replay (RFC 6749 §4.1.2) revokes it, and a loser of
//! the race is a replay too. One read and one write per exchange: its cost is its signature and
//! those, and the store shares the write's transaction among the exchanges that arrive together.

use latchkey_proto::TokenRequest;

use super::{required, GrantKind};
use crate::authorize::{check_pkce, CodeChallenge};
use crate::client::{Client, GrantType};
use crate::error::OAuthError;
use crate::request::AccessFormat;
use crate::secret::{Secret, TokenHash};
use crate::store::{CodeRow, Store};
use crate::tokens::{Issued, RequestContext, TokenService};

const INVALID: &str = "authorization code is invalid, expired or already used";

#[derive(Debug)]
pub struct AuthorizationCodeGrant {
    code: Secret,
    redirect_uri: String,
    code_verifier: Option<String>,
}

impl GrantKind for AuthorizationCodeGrant {
    const NAME: &'static str = "authorization_code";

    fn parse(req: TokenRequest) -> Result<Self, OAuthError> {
        Ok(AuthorizationCodeGrant {
            code: Secret::new(required(req.code, "code")?),
            redirect_uri: required(req.redirect_uri, "redirect_uri")?,
            code_verifier: req.code_verifier.filter(|v| !v.is_empty()),
        })
    }

    async fn issue<S: Store>(
        self,
        tokens: &TokenService<S>,
        client: &Client,
        format: AccessFormat,
        ctx: RequestContext,
    ) -> Result<Issued, OAuthError> {
        TokenService::<S>::require_grant_type(client, GrantType::AuthorizationCode)?;
        let hash = tokens.hasher.hash(self.code.expose());
        let (code, user) = tokens
            .store
            .code_and_user(&hash)
            .await?
            .ok_or(OAuthError::InvalidGrant(INVALID))?;
        if code.used_at.is_some() {
            tokens.code_replayed(&code, ctx.now).await?;
            return Err(OAuthError::InvalidGrant(INVALID));
        }
        if code.expires_at <= ctx.now || code.client_id != client.id {
            return Err(OAuthError::InvalidGrant(INVALID));
        }
        if code.redirect_uri != self.redirect_uri {
            return Err(OAuthError::InvalidGrant(
                "redirect_uri differs from the authorization request's",
            ));
        }
        let challenge = code.code_challenge.clone().map(CodeChallenge::stored);
        check_pkce(challenge.as_ref(), self.code_verifier.as_deref()).map_err(OAuthError::Pkce)?;
        let user = user
            .filter(|u| !u.disabled)
            .ok_or(OAuthError::InvalidGrant("this account is disabled"))?;
        let family = tokens.new_family(client, &user, ctx.now);
        let pair =
            tokens.first_pair(&family, client, &user, code.scopes.clone(), format, ctx.now)?;
        let redeemed = tokens
            .store
            .redeem_code(&hash, ctx.now, &family, &pair.refresh, pair.access.as_ref())
            .await?;
        if !redeemed {
            // Another exchange took the code between our read and now (nothing of this one was
            // stored): the winner's tokens go as for any replay.
            tokens.replay_after_race(&hash, ctx.now).await?;
            return Err(OAuthError::InvalidGrant(INVALID));
        }
        let mut issued = pair.issued;
        issued.id_token = tokens.id_token(client, &user, &code, ctx.now)?;
        tracing::info!(target: "audit", user_id = user.id.0, client_id = %client.id,
            "authorization code exchanged");
        Ok(issued)
    }
}

impl<S: Store> TokenService<S> {
    /// A used code came back: revokes the family its first exchange started (RFC 6749 §4.1.2).
    async fn code_replayed(&self, code: &CodeRow, now: i64) -> Result<(), OAuthError> {
        if let Some(family) = &code.family_id {
            self.revoke_family(family, now).await?;
        }
        tracing::warn!(target: "audit", client_id = %code.client_id, user_id = code.user_id.0,
            "authorization code replayed: the tokens of its first use are revoked");
        Ok(())
    }

    /// The take failed: if another exchange used the code, this one was a replay of it (else
    /// the code expired meanwhile, and nothing was handed out).
    async fn replay_after_race(&self, hash: &TokenHash, now: i64) -> Result<(), OAuthError> {
        match self.store.code(hash).await? {
            Some(code) if code.used_at.is_some() => self.code_replayed(&code, now).await,
            _ => Ok(()),
        }
    }
}
