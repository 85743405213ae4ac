//! Builds the domain services from the configuration and an opened store.

use std::sync::Arc;

use latchkey_core::random::OsRandom;
use latchkey_core::store::Store;
use latchkey_core::throttle::Counting;
use latchkey_server::services::{self, ServiceSettings, Services};

use crate::config::Config;

/// `counting`: where password attempts are counted (`latchkey serve` on PostgreSQL shares them
/// with every node; commands sign no one in).
pub async fn build<S: Store>(
    config: &Config,
    store: Arc<S>,
    counting: Counting,
) -> anyhow::Result<Services<S>> {
    let secrets = crate::secrets::load(config.secret_key.map(|k| k.0), &config.key_file)?;
    let settings = ServiceSettings {
        tokens: config.tokens.clone(),
        passwords: config.passwords,
        hashing_queue_per_thread: config.hashing_queue_per_thread,
        throttle: config.throttle,
        extra_scopes: config.extra_scopes.clone(),
        authz: config.authz,
        sessions: config.sessions,
    };
    Ok(services::build(
        settings,
        counting,
        store,
        secrets.kek,
        secrets.hasher,
        Arc::new(OsRandom),
    )
    .await?)
}
