//! Builds the domain services from the configuration and an opened store.

use std::sync::Arc;

use anyhow::Context;
use latchkey_core::admin::Admin;
use latchkey_core::keys::KeyManager;
use latchkey_core::password::PasswordHasher;
use latchkey_core::random::{OsRandom, Random};
use latchkey_core::scope::ScopeRegistry;
use latchkey_core::store::Store;
use latchkey_core::throttle::Throttle;
use latchkey_core::tokens::TokenService;
use latchkey_server::clock::now;

use crate::config::Config;

pub struct Services<S> {
    pub tokens: Arc<TokenService<S>>,
    pub keys: Arc<KeyManager<S>>,
    pub admin: Admin<S>,
}

pub async fn build<S: Store>(config: &Config, store: Arc<S>) -> anyhow::Result<Services<S>> {
    let random: Arc<dyn Random> = Arc::new(OsRandom);
    let secrets = crate::secrets::load(config.secret_key, &config.key_file)?;
    let passwords = Arc::new(
        PasswordHasher::new(config.passwords, random.as_ref()).context("setting `passwords`")?,
    );
    let scopes = ScopeRegistry::with_extra(&config.extra_scopes).context("setting `scopes`")?;
    let keys = Arc::new(KeyManager::new(store.clone(), secrets.kek, random.clone()));
    let ring = Arc::new(
        keys.load_ring(now())
            .await
            .context("cannot load the signing keys (is this the installation's key file?)")?,
    );
    let tokens = Arc::new(TokenService::new(
        store.clone(),
        ring,
        secrets.hasher.clone(),
        passwords.clone(),
        scopes.clone(),
        config.tokens.clone(),
        random.clone(),
        Throttle::new(config.throttle),
    ));
    let admin = Admin::new(store, secrets.hasher, passwords, scopes, random);
    Ok(Services {
        tokens,
        keys,
        admin,
    })
}
