//! Client authentication (RFC 6749 §2.3). The only way to get an [`AuthenticatedClient`] is to pass
//! [`authenticate_client`], so code that needs an authenticated client cannot skip the check.

use crate::client::{Client, ClientKind};
use crate::error::GrantError;
use crate::secret::{Secret, SecretHasher};
use crate::store::ClientStore;

/// What the request presented: from HTTP Basic or from the body, never both (RFC 6749 §2.3).
#[derive(Debug)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<Secret>,
}

impl ClientCredentials {
    /// Combines the Basic header (already decoded) with the body's `client_id` / `client_secret`.
    pub fn from_parts(
        basic: Option<(String, Secret)>,
        body_id: Option<String>,
        body_secret: Option<String>,
    ) -> Result<Self, GrantError> {
        let body_id = body_id.filter(|s| !s.is_empty());
        let body_secret = body_secret.filter(|s| !s.is_empty());
        match basic {
            Some((id, secret)) => {
                if body_secret.is_some() {
                    return Err(GrantError::InvalidRequest(
                        "client authenticated by both HTTP Basic and the request body".into(),
                    ));
                }
                if body_id.as_deref().is_some_and(|b| b != id) {
                    return Err(GrantError::InvalidRequest(
                        "client_id in the body differs from HTTP Basic".into(),
                    ));
                }
                Ok(ClientCredentials {
                    client_id: id,
                    secret: Some(secret),
                })
            }
            None => match body_id {
                Some(id) => Ok(ClientCredentials {
                    client_id: id,
                    secret: body_secret.map(Secret::new),
                }),
                None => Err(GrantError::InvalidClient(
                    "client authentication is required",
                )),
            },
        }
    }
}

/// Proof that the client proved who it is (or, for a public client, named itself).
#[derive(Clone, Debug)]
pub struct AuthenticatedClient(Client);

impl AuthenticatedClient {
    pub fn client(&self) -> &Client {
        &self.0
    }
}

/// Unknown client, missing or wrong secret, or a secret sent by a public client: `invalid_client`.
/// The same message for each, so a caller learns nothing about which client ids exist.
pub async fn authenticate_client<S: ClientStore + ?Sized>(
    store: &S,
    hasher: &SecretHasher,
    creds: &ClientCredentials,
) -> Result<AuthenticatedClient, GrantError> {
    const FAILED: &str = "client authentication failed";
    let client = store
        .client_by_id(&creds.client_id)
        .await?
        .ok_or(GrantError::InvalidClient(FAILED))?;
    verify_client(client, hasher, creds)
}

/// The secret check itself, for callers that already hold the client (e.g. from a cache).
pub fn verify_client(
    client: Client,
    hasher: &SecretHasher,
    creds: &ClientCredentials,
) -> Result<AuthenticatedClient, GrantError> {
    match (&client.kind, &creds.secret) {
        (ClientKind::Public, None) => Ok(AuthenticatedClient(client)),
        (ClientKind::Public, Some(_)) => Err(GrantError::InvalidClient(
            "a public client must not send a client secret",
        )),
        (ClientKind::Confidential { secret_hash }, Some(secret))
            if hasher.matches(secret.expose(), secret_hash) =>
        {
            Ok(AuthenticatedClient(client))
        }
        (ClientKind::Confidential { .. }, _) => {
            Err(GrantError::InvalidClient("client authentication failed"))
        }
    }
}
