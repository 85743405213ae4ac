//! RFC 6749 §4.4: a confidential client gets a token for itself, acting as its owning user.
//! No refresh token (§4.4.3).

use crate::client::{Client, GrantType};
use crate::error::GrantError;
use crate::request::AccessFormat;
use crate::store::Store;
use crate::tokens::{AccessGrant, Issued, TokenService};

impl<S: Store> TokenService<S> {
    pub(crate) async fn client_credentials(
        &self,
        client: &Client,
        scope: Option<&str>,
        format: AccessFormat,
        now: i64,
    ) -> Result<Issued, GrantError> {
        Self::require_grant_type(client, GrantType::ClientCredentials)?;
        if client.is_public() {
            return Err(GrantError::InvalidClient(
                "client_credentials needs a confidential client",
            ));
        }
        let scopes = self.scopes.resolve(scope, client)?;
        let owner = self
            .owner(client.owner)
            .await?
            .filter(|u| !u.disabled)
            .ok_or(GrantError::InvalidGrant(
                "the client's owning user is disabled",
            ))?;
        let access = self.mint_access(
            &AccessGrant {
                client,
                user: &owner,
                scopes: scopes.clone(),
                format,
                family_id: None,
            },
            now,
        )?;
        if let Some(row) = &access.row {
            self.store.insert_access_token(row).await?;
        }
        Ok(Issued {
            access_token: access.token,
            format,
            expires_in: access.expires_in,
            scopes,
            refresh_token: None,
        })
    }
}
