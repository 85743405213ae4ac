//! Builds the domain services from settings, an opened store and the installation's keys: the
//! wiring the binary and the test kit share.

use std::sync::Arc;

use latchkey_core::admin::Admin;
use latchkey_core::authz::{AuthzService, AuthzServiceError, AuthzSettings};
use latchkey_core::keys::{KeyEncryptionKey, KeyError, KeyManager};
use latchkey_core::password::{
    HashingPool, PasswordError, PasswordHasher, PasswordParams, PoolError, DEFAULT_QUEUE_PER_THREAD,
};
use latchkey_core::random::Random;
use latchkey_core::revocation_feed::RevocationFeed;
use latchkey_core::scope::{ScopeError, ScopeRegistry};
use latchkey_core::secret::SecretHasher;
use latchkey_core::session::{SessionSettings, Sessions};
use latchkey_core::signin::SignIn;
use latchkey_core::store::Store;
use latchkey_core::throttle::{Counting, Throttle, ThrottleSettings};
use latchkey_core::tokens::{TokenService, TokenSettings};

use crate::clock::now;

#[derive(Clone, Debug)]
pub struct ServiceSettings {
    pub tokens: TokenSettings,
    pub passwords: PasswordParams,
    /// Password checks that may wait per hashing thread before sign-ins are refused with 503.
    pub hashing_queue_per_thread: usize,
    pub throttle: ThrottleSettings,
    pub extra_scopes: Vec<String>,
    pub authz: AuthzSettings,
    pub sessions: SessionSettings,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        ServiceSettings {
            tokens: TokenSettings::default(),
            passwords: PasswordParams::default(),
            hashing_queue_per_thread: DEFAULT_QUEUE_PER_THREAD,
            throttle: ThrottleSettings::default(),
            extra_scopes: Vec::new(),
            authz: AuthzSettings::default(),
            sessions: SessionSettings::default(),
        }
    }
}

pub struct Services<S> {
    pub tokens: Arc<TokenService<S>>,
    pub keys: Arc<KeyManager<S>>,
    pub admin: Arc<Admin<S>>,
    pub authz: Arc<AuthzService<S>>,
    pub sessions: Arc<Sessions<S>>,
    pub feed: Arc<RevocationFeed<S>>,
    /// The randomness every service was given, for what the server makes itself (CSRF secrets).
    pub random: Arc<dyn Random>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("setting `passwords`: {0}")]
    Passwords(#[from] PasswordError),
    #[error(transparent)]
    Hashing(#[from] PoolError),
    #[error("setting `scopes`: {0}")]
    Scopes(#[from] ScopeError),
    #[error("cannot load the signing keys (is this the installation's secret key?): {0}")]
    Keys(#[from] KeyError),
    #[error("cannot read the users table: {0}")]
    Store(#[source] latchkey_core::store::StoreError),
    #[error("cannot load the authz rules: {0}")]
    Authz(#[from] AuthzServiceError),
}

/// `counting` says where password attempts are counted: in this process, or in the database all
/// nodes share (`latchkey_core::throttle`).
pub async fn build<S: Store>(
    settings: ServiceSettings,
    counting: Counting,
    store: Arc<S>,
    kek: KeyEncryptionKey,
    hasher: SecretHasher,
    random: Arc<dyn Random>,
) -> Result<Services<S>, BuildError> {
    let password_hasher = Arc::new(PasswordHasher::new(settings.passwords, random.as_ref())?);
    let passwords = Arc::new(HashingPool::per_core(
        password_hasher,
        settings.hashing_queue_per_thread,
    )?);
    let scopes = ScopeRegistry::with_extra(&settings.extra_scopes)?;
    let keys = Arc::new(KeyManager::new(store.clone(), kek, random.clone()));
    let ring = Arc::new(keys.load_ring(now()).await?);
    let sign_in = Arc::new(SignIn::new(
        store.clone(),
        passwords.clone(),
        Throttle::new(settings.throttle, counting),
        hasher.clone(),
        random.clone(),
    ));
    sign_in.refresh_decoys().await.map_err(BuildError::Store)?;
    let tokens = Arc::new(TokenService::new(
        store.clone(),
        ring,
        hasher.clone(),
        sign_in,
        scopes.clone(),
        settings.tokens,
        random.clone(),
    ));
    let authz = Arc::new(AuthzService::load(store.clone(), settings.authz, now()).await?);
    let sessions = Arc::new(Sessions::new(
        store.clone(),
        hasher.clone(),
        random.clone(),
        settings.sessions,
    ));
    let feed = Arc::new(RevocationFeed::new(store.clone()));
    let admin = Arc::new(Admin::new(
        store,
        hasher,
        passwords.hasher().clone(),
        scopes,
        random.clone(),
    ));
    Ok(Services {
        tokens,
        keys,
        admin,
        authz,
        sessions,
        feed,
        random,
    })
}
