//! Managing users and clients: what the CLI (and later the admin API) does, validated here once.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::client::{
    parse_client_id, parse_filter, parse_lifetime, Client, ClientInputError, ClientKind, GrantType,
    Lifetimes, Permission, RedirectUri, StoredSecret,
};
use crate::password::{PasswordError, PasswordHasher};
use crate::random::{client_id, secret_token, Random};
use crate::scope::ScopeRegistry;
use crate::secret::{Secret, SecretHasher};
use crate::store::{Conflict, NewUserRow, Store, StoreError};
use crate::user::{AnonymousId, Email, User, UserInputError, Username};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    User(#[from] UserInputError),
    #[error(transparent)]
    Client(#[from] ClientInputError),
    #[error(transparent)]
    Conflict(#[from] Conflict),
    #[error("no user named {0:?}")]
    UnknownUser(String),
    #[error("the owner {0:?} has no client named {1:?} to update")]
    UnknownClient(String, String),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(c) => AdminError::Conflict(c),
            other => AdminError::Store(other),
        }
    }
}

/// A user as the operator describes it.
#[derive(Debug, Default)]
pub struct UserSpec {
    pub username: String,
    pub email: String,
    pub name: Option<String>,
    pub password: Option<Secret>,
    pub staff: bool,
    pub superuser: bool,
    pub unverified: bool,
    /// An existing anonymous id (import); generated when absent.
    pub sub: Option<String>,
}

/// A client as the operator describes it (mirrors Open edX's `create_dot_application`).
#[derive(Debug, Default)]
pub struct ClientSpec {
    pub name: String,
    pub owner: String,
    pub grant_type: String,
    pub public: bool,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub filters: Vec<String>,
    pub restricted: bool,
    pub skip_authorization: bool,
    pub jwt_lifetime: Option<i64>,
    pub opaque_lifetime: Option<i64>,
    pub refresh_lifetime: Option<i64>,
    /// Permissions to grant (`introspect`, `authz:read`, `authz:write`, `token:mint`); on update,
    /// added to the ones the client holds.
    pub permissions: Vec<String>,
    /// Permissions to take away on update.
    pub revoked_permissions: Vec<String>,
}

/// The client as stored, and its secret when one was just set: the only time it is ever shown.
#[derive(Debug)]
pub struct SavedClient {
    pub client: Client,
    pub secret: Option<Secret>,
}

pub struct Admin<S> {
    store: Arc<S>,
    hasher: SecretHasher,
    passwords: Arc<PasswordHasher>,
    scopes: ScopeRegistry,
    random: Arc<dyn Random>,
}

impl<S: Store> Admin<S> {
    pub fn new(
        store: Arc<S>,
        hasher: SecretHasher,
        passwords: Arc<PasswordHasher>,
        scopes: ScopeRegistry,
        random: Arc<dyn Random>,
    ) -> Self {
        Admin {
            store,
            hasher,
            passwords,
            scopes,
            random,
        }
    }

    pub async fn create_user(&self, spec: UserSpec, now: i64) -> Result<User, AdminError> {
        let username = Username::try_from(spec.username.as_str())?;
        let email = Email::try_from(spec.email.as_str())?;
        let sub = match spec.sub.as_deref() {
            Some(s) => AnonymousId::try_from(s)?,
            None => AnonymousId::generate(self.random.as_ref()),
        };
        let password_hash = match &spec.password {
            Some(p) => Some(self.passwords.hash(p.expose(), self.random.as_ref())?),
            None => None,
        };
        let user = self
            .store
            .insert_user(&NewUserRow {
                username: username.as_str().to_owned(),
                email: email.as_str().to_owned(),
                name: spec.name.unwrap_or_default(),
                password_hash,
                is_staff: spec.staff,
                is_superuser: spec.superuser,
                email_verified: !spec.unverified,
                sub: sub.as_str().to_owned(),
                created_at: now,
            })
            .await?;
        tracing::info!(target: "audit", user_id = user.id.0, username = %user.username, "user created");
        Ok(user)
    }

    /// Disabling also logs the user out everywhere ([`Admin::logout_everywhere`]): enabling them
    /// again brings back no session or token from before.
    pub async fn set_disabled(
        &self,
        username: &str,
        disabled: bool,
        now: i64,
    ) -> Result<(), AdminError> {
        if self
            .store
            .set_user_disabled(username, disabled, now)
            .await?
        {
            tracing::info!(target: "audit", username, disabled, "user disabled flag changed");
            Ok(())
        } else {
            Err(AdminError::UnknownUser(username.to_owned()))
        }
    }

    /// Ends every session, refresh family and code of the user, and refuses every access token
    /// of theirs issued before `now`: at this server at once, at resource servers following the
    /// revocation feed within seconds.
    pub async fn logout_everywhere(&self, username: &str, now: i64) -> Result<(), AdminError> {
        self.cut_off(username, now, None).await?;
        tracing::info!(target: "audit", username, "user logged out everywhere");
        Ok(())
    }

    /// A new password, and the user logged out everywhere, as after a password reset.
    pub async fn set_password(
        &self,
        username: &str,
        password: &Secret,
        now: i64,
    ) -> Result<(), AdminError> {
        let hash = self
            .passwords
            .hash(password.expose(), self.random.as_ref())?;
        self.cut_off(username, now, Some(&hash)).await?;
        tracing::info!(target: "audit", username, "user password changed; logged out everywhere");
        Ok(())
    }

    async fn cut_off(
        &self,
        username: &str,
        now: i64,
        password_hash: Option<&str>,
    ) -> Result<(), AdminError> {
        if self
            .store
            .cut_off_user(username, now, password_hash)
            .await?
        {
            Ok(())
        } else {
            Err(AdminError::UnknownUser(username.to_owned()))
        }
    }

    pub async fn list_users(&self) -> Result<Vec<User>, AdminError> {
        Ok(self.store.list_users().await?)
    }

    pub async fn list_clients(&self) -> Result<Vec<Client>, AdminError> {
        Ok(self.store.list_clients().await?)
    }

    /// Creates a client, or with `update` replaces the one of that name and owner. A confidential
    /// client gets a generated 256-bit secret unless one is given; on update the old secret is
    /// kept unless a new one is given, and so are its permissions, plus the granted ones, minus
    /// the revoked ones (a grant must never silently drop the others).
    pub async fn save_client(
        &self,
        spec: ClientSpec,
        update: bool,
        now: i64,
    ) -> Result<SavedClient, AdminError> {
        let owner = self
            .store
            .user_by_login(&spec.owner)
            .await?
            .filter(|u| u.username == spec.owner)
            .ok_or_else(|| AdminError::UnknownUser(spec.owner.clone()))?;
        if spec.name.trim().is_empty() {
            return Err(ClientInputError::EmptyName.into());
        }
        let grant_type: GrantType = spec.grant_type.parse()?;
        if spec.public && spec.client_secret.is_some() {
            return Err(ClientInputError::PublicWithSecret.into());
        }
        if let Some(s) = &spec.client_secret {
            if s.expose().len() < 16 {
                return Err(ClientInputError::WeakSecret.into());
            }
        }
        let redirect_uris = spec
            .redirect_uris
            .iter()
            .map(|u| RedirectUri::try_from(u.as_str()))
            .collect::<Result<Vec<_>, _>>()?;
        if grant_type == GrantType::AuthorizationCode && redirect_uris.is_empty() {
            return Err(ClientInputError::MissingRedirectUri.into());
        }
        if let Some(bad) = spec.scopes.iter().find(|s| !self.scopes.contains(s)) {
            return Err(ClientInputError::UnknownScope(bad.clone()).into());
        }
        let filters = spec
            .filters
            .iter()
            .map(|f| parse_filter(f))
            .collect::<Result<Vec<_>, _>>()?;
        let lifetimes = Lifetimes {
            jwt: spec
                .jwt_lifetime
                .map(|s| parse_lifetime("JWT", s))
                .transpose()?,
            opaque: spec
                .opaque_lifetime
                .map(|s| parse_lifetime("opaque token", s))
                .transpose()?,
            refresh: spec
                .refresh_lifetime
                .map(|s| parse_lifetime("refresh token", s))
                .transpose()?,
        };
        let (granted, revoked) = permission_changes(&spec.permissions, &spec.revoked_permissions)?;
        let existing = self.store.client_by_name(owner.id, &spec.name).await?;
        let existing = match (existing, update) {
            (Some(_), false) => return Err(Conflict::ClientName.into()),
            (None, true) => {
                return Err(AdminError::UnknownClient(
                    spec.owner.clone(),
                    spec.name.clone(),
                ))
            }
            (existing, _) => existing,
        };
        let id = match (&spec.client_id, &existing) {
            (Some(given), _) => parse_client_id(given)?,
            (None, Some(old)) => old.id.clone(),
            (None, None) => client_id(self.random.as_ref()),
        };
        let mut permissions = existing
            .as_ref()
            .map(|c| c.permissions().clone())
            .unwrap_or_default();
        permissions.extend(&granted);
        permissions.retain(|p| !revoked.contains(p));
        let (kind, shown) = if spec.public {
            if !permissions.is_empty() {
                let held: Vec<_> = permissions.iter().map(|p| p.as_str()).collect();
                return Err(ClientInputError::PublicWithPermissions(held.join(", ")).into());
            }
            (ClientKind::Public, None)
        } else {
            let kept = existing.as_ref().and_then(|c| match &c.kind {
                ClientKind::Confidential { secret, .. } => Some(secret.clone()),
                ClientKind::Public => None,
            });
            let (stored, shown) = match (spec.client_secret, kept) {
                (Some(secret), _) => (
                    StoredSecret::Keyed(self.hasher.hash(secret.expose())),
                    Some(secret),
                ),
                (None, Some(kept)) => (kept, None),
                (None, None) => {
                    let secret = secret_token(self.random.as_ref());
                    (
                        StoredSecret::Keyed(self.hasher.hash(secret.expose())),
                        Some(secret),
                    )
                }
            };
            let kind = ClientKind::Confidential {
                secret: stored,
                permissions,
            };
            (kind, shown)
        };
        let client = Client {
            id,
            name: spec.name,
            owner: owner.id,
            kind,
            grant_type,
            redirect_uris,
            scopes: spec.scopes,
            filters,
            restricted: spec.restricted,
            skip_authorization: spec.skip_authorization,
            lifetimes,
            created_at: existing.as_ref().map_or(now, |c| c.created_at),
        };
        match &existing {
            Some(old) if old.id != client.id => {
                return Err(AdminError::Client(ClientInputError::ClientId(format!(
                    "{} (the client id of an existing client cannot change)",
                    client.id
                ))))
            }
            Some(_) => self.store.update_client(&client).await?,
            None => self.store.insert_client(&client).await?,
        }
        let permissions: Vec<_> = client.permissions().iter().map(|p| p.as_str()).collect();
        tracing::info!(
            target: "audit",
            client_id = %client.id,
            update,
            permissions = %permissions.join(" "),
            "client saved"
        );
        Ok(SavedClient {
            client,
            secret: shown,
        })
    }
}

/// The permissions to grant and to revoke, which must not overlap (which one would win is a guess).
fn permission_changes(
    granted: &[String],
    revoked: &[String],
) -> Result<(BTreeSet<Permission>, BTreeSet<Permission>), ClientInputError> {
    let parse = |names: &[String]| {
        names
            .iter()
            .map(|n| n.parse())
            .collect::<Result<BTreeSet<Permission>, _>>()
    };
    let (granted, revoked) = (parse(granted)?, parse(revoked)?);
    if let Some(both) = granted.intersection(&revoked).next() {
        return Err(ClientInputError::GrantedAndRevoked(*both));
    }
    Ok((granted, revoked))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn permission_changes_are_parsed_and_must_not_overlap() {
        let (granted, revoked) = permission_changes(
            &names(&["introspect", "authz:read"]),
            &names(&["authz:write"]),
        )
        .unwrap();
        assert_eq!(
            granted.into_iter().collect::<Vec<_>>(),
            [Permission::Introspect, Permission::AuthzRead]
        );
        assert_eq!(
            revoked.into_iter().collect::<Vec<_>>(),
            [Permission::AuthzWrite]
        );
        assert_eq!(
            permission_changes(&names(&["authz:read"]), &names(&["authz:read"])),
            Err(ClientInputError::GrantedAndRevoked(Permission::AuthzRead))
        );
        assert_eq!(
            permission_changes(&names(&["admin"]), &[]),
            Err(ClientInputError::Permission("admin".into()))
        );
    }
}
