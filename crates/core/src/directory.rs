//! Who the token service deals with: clients, and the users that client_credentials clients act
//! as, read through short-lived caches. A layer over the store rather than fields of the service,
//! so that a grant asks "which client?" and never decides how fresh the answer is.
//!
//! Only rows are cached, never a decision: a client's secret is checked on every request, and a
//! password, refresh or introspection reads its user every time. A client or owner changed by
//! another process or node is seen within the TTL; unknown ids are never cached, so a client
//! created elsewhere works at once.

use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use crate::client::Client;
use crate::client_auth::{verify_client, AuthenticatedClient, ClientCredentials};
use crate::error::OAuthError;
use crate::secret::SecretHasher;
use crate::store::{Store, StoreError};
use crate::user::{User, UserId};

/// Rows kept per cache: far more clients than an installation has, few enough to bound memory.
const CAPACITY: u64 = 10_000;

pub struct Directory<S> {
    store: Arc<S>,
    clients: Cache<String, Arc<Client>>,
    owners: Cache<UserId, Arc<User>>,
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

    /// RFC 6749 §2.3. Unknown client, missing or wrong secret, or a secret sent by a public
    /// client: `invalid_client`, with the same message for each, so a caller learns nothing about
    /// which client ids exist.
    pub async fn authenticate(
        &self,
        hasher: &SecretHasher,
        creds: &ClientCredentials,
    ) -> Result<AuthenticatedClient, OAuthError> {
        let client = self
            .client(&creds.client_id)
            .await?
            .ok_or(OAuthError::InvalidClient("client authentication failed"))?;
        verify_client(Client::clone(&client), hasher, creds)
    }
}
