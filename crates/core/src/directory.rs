//! Who the token service deals with: clients, and the users that client_credentials clients act
//! as, read through short-lived caches. A layer over the store rather than fields of the service,
//! so that a grant asks "which client?" and never decides how fresh the answer is.
//!
//! Only rows are cached, never a decision: a client's secret is checked on every request, and a
//! password, refresh or introspection reads its user every time. A client or owner changed by
//! another process or node is dropped when its change notice arrives, and seen within the TTL
//! without one; unknown ids are never cached, so a client created elsewhere works at once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::sync::Cache;

use crate::client::{Client, ClientKind, StoredSecret};
use crate::client_auth::{verify_client, AuthenticatedClient, ClientCredentials};
use crate::error::{InternalError, OAuthError};
use crate::notice::Change;
use crate::password::{HashingPool, PasswordCheck, PoolError};
use crate::secret::{Secret, SecretHasher, TokenHash};
use crate::signin::BUSY_RETRY_AFTER;
use crate::store::{Store, StoreError};
use crate::user::{User, UserId};

/// Rows kept per cache: far more clients than an installation has, few enough to bound memory.
const CAPACITY: u64 = 10_000;

pub struct Directory<S> {
    store: Arc<S>,
    clients: Cache<String, Arc<Client>>,
    owners: Cache<UserId, Arc<User>>,
    /// Clients whose Django-hashed secret is being checked: one check per client at a time, so
    /// that a flood of guesses against one client id cannot fill the hashing pool that password
    /// sign-ins share (each check costs Django's 600 000 PBKDF2 rounds).
    django_checks: Mutex<HashSet<String>>,
}

/// A client's place in [`Directory::django_checks`], given back when the check ends.
struct DjangoCheck<'a> {
    checks: &'a Mutex<HashSet<String>>,
    client_id: &'a str,
}

impl Drop for DjangoCheck<'_> {
    fn drop(&mut self) {
        if let Ok(mut checks) = self.checks.lock() {
            checks.remove(self.client_id);
        }
    }
}

impl<S: Store> Directory<S> {
    /// Rows are reused for `ttl` after they were read.
    pub fn new(store: Arc<S>, ttl: Duration) -> Self {
        Directory {
            store,
            clients: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
            owners: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
            django_checks: Mutex::new(HashSet::new()),
        }
    }

    /// A client by id.
    pub async fn client(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        if let Some(client) = self.clients.get(client_id) {
            return Ok(Some(client));
        }
        let Some(client) = self.store.client_by_id(client_id).await? else {
            return Ok(None);
        };
        let client = Arc::new(client);
        self.clients.insert(client_id.to_owned(), client.clone());
        Ok(Some(client))
    }

    /// The user a client_credentials client acts as: disabling the owner stops its client's
    /// tokens within the TTL.
    pub async fn owner(&self, id: UserId) -> Result<Option<Arc<User>>, StoreError> {
        if let Some(user) = self.owners.get(&id) {
            return Ok(Some(user));
        }
        let Some(user) = self.store.user_by_id(id).await? else {
            return Ok(None);
        };
        let user = Arc::new(user);
        self.owners.insert(id, user.clone());
        Ok(Some(user))
    }

    /// Drops what `change` made stale (a change notice, `crate::notice`).
    pub fn forget(&self, change: &Change) {
        match change {
            Change::Client(id) => self.clients.invalidate(id),
            Change::User(id) => self.owners.invalidate(id),
            Change::Everything => {
                self.clients.invalidate_all();
                self.owners.invalidate_all();
            }
            Change::Revocations | Change::Keys | Change::Authz => {}
        }
    }

    /// RFC 6749 §2.3. Unknown client, missing or wrong secret, or a secret sent by a public
    /// client: `invalid_client`, with the same message for each, so a caller learns nothing about
    /// which client ids exist.
    pub async fn authenticate(
        &self,
        hasher: &SecretHasher,
        passwords: &HashingPool,
        creds: &ClientCredentials,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let client = self
            .client(&creds.client_id)
            .await?
            .ok_or(OAuthError::InvalidClient("client authentication failed"))?;
        let mut client = Client::clone(&client);
        if let (ClientKind::Confidential { secret, .. }, Some(presented)) =
            (&mut client.kind, &creds.secret)
        {
            if let StoredSecret::Django(django) = secret {
                let keyed = self
                    .carry_django_secret(hasher, passwords, &client.id, django, presented)
                    .await?;
                *secret = StoredSecret::Keyed(keyed);
            }
        }
        verify_client(client, hasher, creds)
    }

    /// Checks a secret against the Django hash an import brought, and on a match stores its keyed
    /// hash instead. Django's cost (600 000 PBKDF2 rounds) is paid on the hashing pool, bounded
    /// like a password sign-in, and once.
    async fn carry_django_secret(
        &self,
        hasher: &SecretHasher,
        passwords: &HashingPool,
        client_id: &str,
        django: &str,
        presented: &Secret,
    ) -> Result<TokenHash, OAuthError> {
        let busy = OAuthError::Unavailable {
            retry_after: BUSY_RETRY_AFTER,
        };
        let started = self
            .django_checks
            .lock()
            .map(|mut checks| checks.insert(client_id.to_owned()))
            .unwrap_or(false);
        if !started {
            return Err(busy);
        }
        let _check = DjangoCheck {
            checks: &self.django_checks,
            client_id,
        };
        let check = passwords
            .verify(presented.clone(), Some(django.to_owned()))
            .await
            .map_err(|e| match e {
                PoolError::Busy => OAuthError::Unavailable {
                    retry_after: BUSY_RETRY_AFTER,
                },
                other => OAuthError::Internal(InternalError::Blocking(other.to_string())),
            })?;
        if !matches!(check, PasswordCheck::Match { .. }) {
            return Err(OAuthError::InvalidClient("client authentication failed"));
        }
        let keyed = hasher.hash(presented.expose());
        // False when another request carried it first: the same keyed hash either way.
        self.store
            .upgrade_client_secret(client_id, django, &keyed)
            .await?;
        self.clients.invalidate(client_id);
        tracing::info!(target: "audit", client_id,
            "client secret carried over from its Django hash to Latchkey's keyed hash");
        Ok(keyed)
    }
}
