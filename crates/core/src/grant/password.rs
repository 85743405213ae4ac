//! RFC 6749 §4.3: the resource owner's username (or email) and password, as Open edX's mobile
//! apps sign in. The sign-in itself (throttling, the password check, what failures look like) is
//! [`crate::signin`]'s; this grant turns its proof into a token pair.

use crate::client::{Client, GrantType};
use crate::error::GrantError;
use crate::request::AccessFormat;
use crate::secret::Secret;
use crate::store::Store;
use crate::tokens::{Issued, RequestContext, TokenService};

impl<S: Store> TokenService<S> {
    pub(crate) async fn password(
        &self,
        client: &Client,
        login: &str,
        password: Secret,
        scope: Option<&str>,
        format: AccessFormat,
        ctx: RequestContext,
    ) -> Result<Issued, GrantError> {
        Self::require_grant_type(client, GrantType::Password)?;
        let scopes = self.scopes.resolve(scope, client)?;
        let signed_in = self.sign_in.sign_in(login, password, ctx).await?;
        let user = signed_in.user();
        tracing::info!(target: "audit", user_id = user.id.0, client_id = %client.id, "password sign-in");
        self.start_family(client, user, scopes, format, ctx.now)
            .await
    }
}
