//! RFC 6749 §4.4: a confidential client gets a token for itself, acting as its owning user.
//! No refresh token (§4.4.3).

use latchkey_proto::TokenRequest;

use super::GrantKind;
use crate::client::{Client, GrantType};
use crate::error::OAuthError;
use crate::request::AccessFormat;
use crate::store::Store;
use crate::tokens::{AccessGrant, Issued, RequestContext, TokenService};

#[derive(Debug)]
pub struct ClientCredentialsGrant {
    scope: Option<String>,
}

impl GrantKind for ClientCredentialsGrant {
    const NAME: &'static str = "client_credentials";

    fn parse(req: TokenRequest) -> Result<Self, OAuthError> {
        Ok(ClientCredentialsGrant { scope: req.scope })
    }

    async fn issue<S: Store>(
        self,
        tokens: &TokenService<S>,
        client: &Client,
        format: AccessFormat,
        ctx: RequestContext,
    ) -> Result<Issued, OAuthError> {
        TokenService::<S>::require_grant_type(client, GrantType::ClientCredentials)?;
        if client.is_public() {
            return Err(OAuthError::InvalidClient(
                "client_credentials needs a confidential client",
            ));
        }
        let scopes = tokens.scopes.resolve(self.scope.as_deref(), client)?;
        let owner = tokens
            .owner(client.owner)
            .await?
            .filter(|u| !u.disabled)
            .ok_or(OAuthError::InvalidGrant(
                "the client's owning user is disabled",
            ))?;
        let access = tokens.mint_access(
            &AccessGrant {
                client,
                user: &owner,
                scopes: scopes.clone(),
                format,
                family_id: None,
            },
            ctx.now,
        )?;
        if let Some(row) = &access.row {
            tokens.store.insert_access_token(row).await?;
        }
        Ok(Issued {
            access_token: access.token,
            format,
            expires_in: access.expires_in,
            scopes,
            refresh_token: None,
            id_token: None,
        })
    }
}
