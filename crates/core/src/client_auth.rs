//! Client authentication (RFC 6749 §2.3). The only way to get an [`AuthenticatedClient`] is to pass
//! the secret check ([`verify_client`], which [`Directory::authenticate`](crate::directory::Directory::authenticate)
//! runs on every request).
//! What an authenticated client may then do beyond the grants is [`AuthenticatedClient::require`]'s
//! decision, from the permissions an operator granted it.

use latchkey_proto::ErrorCode;

use crate::client::{Client, ClientKind, Permission, StoredSecret};
use crate::error::OAuthError;
use crate::secret::{Secret, SecretHasher};

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
    ) -> Result<Self, OAuthError> {
        let body_id = body_id.filter(|s| !s.is_empty());
        let body_secret = body_secret.filter(|s| !s.is_empty());
        match basic {
            Some((id, secret)) => {
                // `Basic base64("id:")` carries no secret, as an empty `client_secret` carries none.
                let secret = Some(secret).filter(|s| !s.expose().is_empty());
                if body_secret.is_some() {
                    return Err(OAuthError::InvalidRequest(
                        "client authenticated by both HTTP Basic and the request body".into(),
                    ));
                }
                if body_id.as_deref().is_some_and(|b| b != id) {
                    return Err(OAuthError::InvalidRequest(
                        "client_id in the body differs from HTTP Basic".into(),
                    ));
                }
                Ok(ClientCredentials {
                    client_id: id,
                    secret,
                })
            }
            None => match body_id {
                Some(id) => Ok(ClientCredentials {
                    client_id: id,
                    secret: body_secret.map(Secret::new),
                }),
                None => Err(OAuthError::InvalidClient(
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

    /// `Ok` when the client holds `permission`. A public client is refused as unauthenticated
    /// rather than unauthorized: it only named itself, so nobody in particular is asking.
    pub fn require(&self, permission: Permission) -> Result<(), PermissionError> {
        if self.0.is_public() {
            Err(PermissionError::Public(permission))
        } else if self.0.permissions().contains(&permission) {
            Ok(())
        } else {
            Err(PermissionError::Missing(permission))
        }
    }
}

/// Why an authenticated client may not do what it asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PermissionError {
    #[error("{} needs a confidential client", .0.opens())]
    Public(Permission),
    #[error("the client lacks the {0} permission")]
    Missing(Permission),
}

impl PermissionError {
    /// The RFC 6749 §5.2 `error` value: a public client is not authenticated (`invalid_client`);
    /// a confidential one is, but not allowed this (`unauthorized_client`, RFC 6749's code for a
    /// client that may not use what it asked for).
    pub fn code(&self) -> ErrorCode {
        match self {
            PermissionError::Public(_) => ErrorCode::InvalidClient,
            PermissionError::Missing(_) => ErrorCode::UnauthorizedClient,
        }
    }
}

/// The secret check itself, for callers that already hold the client (e.g. from a cache). A
/// Django-hashed secret never passes here: [`Directory::authenticate`](crate::directory::Directory::authenticate)
/// checks it on the hashing pool first, then replaces it with the keyed hash.
pub fn verify_client(
    client: Client,
    hasher: &SecretHasher,
    creds: &ClientCredentials,
) -> Result<AuthenticatedClient, OAuthError> {
    match (&client.kind, &creds.secret) {
        (ClientKind::Public, None) => Ok(AuthenticatedClient(client)),
        // Said as for an unknown client: a distinct answer would confirm that the id exists and
        // is public.
        (ClientKind::Public, Some(_)) => {
            Err(OAuthError::InvalidClient("client authentication failed"))
        }
        (
            ClientKind::Confidential {
                secret: StoredSecret::Keyed(stored),
                ..
            },
            Some(secret),
        ) if hasher.matches(secret.expose(), stored) => Ok(AuthenticatedClient(client)),
        (ClientKind::Confidential { .. }, _) => {
            Err(OAuthError::InvalidClient("client authentication failed"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::client::{GrantType, Lifetimes};
    use crate::user::UserId;

    #[test]
    fn an_empty_secret_is_no_secret_in_basic_as_in_the_body() {
        let basic =
            ClientCredentials::from_parts(Some(("app".into(), Secret::new(""))), None, None)
                .unwrap();
        let body =
            ClientCredentials::from_parts(None, Some("app".into()), Some(String::new())).unwrap();
        assert!(basic.secret.is_none() && body.secret.is_none());
        assert_eq!(basic.client_id, body.client_id);
    }

    fn authenticated(kind: ClientKind) -> AuthenticatedClient {
        AuthenticatedClient(Client {
            id: "c".into(),
            name: "c".into(),
            owner: UserId(1),
            kind,
            grant_type: GrantType::ClientCredentials,
            redirect_uris: vec![],
            scopes: vec![],
            filters: vec![],
            restricted: false,
            skip_authorization: false,
            lifetimes: Lifetimes::default(),
            created_at: 0,
        })
    }

    #[test]
    fn only_a_granted_permission_is_held() {
        let hasher = SecretHasher::new(&[3; 32]);
        let confidential = |held: &[Permission]| {
            authenticated(ClientKind::Confidential {
                secret: StoredSecret::Keyed(hasher.hash("s")),
                permissions: held.iter().copied().collect::<BTreeSet<_>>(),
            })
        };
        let reader = confidential(&[Permission::AuthzRead]);
        assert_eq!(reader.require(Permission::AuthzRead), Ok(()));
        assert_eq!(
            reader.require(Permission::AuthzWrite),
            Err(PermissionError::Missing(Permission::AuthzWrite)),
            "reading does not imply writing"
        );
        assert_eq!(
            confidential(&[]).require(Permission::Introspect),
            Err(PermissionError::Missing(Permission::Introspect))
        );
        assert_eq!(
            authenticated(ClientKind::Public).require(Permission::Introspect),
            Err(PermissionError::Public(Permission::Introspect))
        );
    }
}
