//! RFC 6749 §4.3: the resource owner's username (or email) and password, as Open edX's mobile
//! apps sign in. The sign-in itself (throttling, the password check, what failures look like) is
//! [`crate::signin`]'s; this grant turns its proof into a token pair.

use latchkey_proto::TokenRequest;

use super::{required, GrantKind};
use crate::client::{Client, GrantType};
use crate::error::OAuthError;
use crate::request::AccessFormat;
use crate::secret::Secret;
use crate::store::Store;
use crate::tokens::{Issued, RequestContext, TokenService};

#[derive(Debug)]
pub struct PasswordGrant {
    login: String,
    password: Secret,
    scope: Option<String>,
}

impl GrantKind for PasswordGrant {
    const NAME: &'static str = "password";

    fn parse(req: TokenRequest) -> Result<Self, OAuthError> {
        Ok(PasswordGrant {
            login: required(req.username, "username")?,
            password: Secret::new(required(req.password, "password")?),
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
        TokenService::<S>::require_grant_type(client, GrantType::Password)?;
        let scopes = tokens.scopes.resolve(self.scope.as_deref(), client)?;
        let signed_in = tokens
            .sign_in
            .sign_in(&self.login, self.password, ctx)
            .await?;
        let user = signed_in.user();
        tracing::info!(target: "audit", user_id = user.id.0, client_id = %client.id, "password sign-in");
        let family = tokens.new_family(client, user, ctx.now);
        tokens
            .start_family(family, client, user, scopes, format, ctx.now)
            .await
    }
}
