//! The janitor: removes expired and revoked rows in bounded batches, forgets retired keys once
//! their tokens have expired, and reloads the key ring and the authz rules and staff set. Change
//! notices (`notices.rs`) bring other nodes' changes at once; these reloads are the safety net
//! for a lost notice, and what brings a CLI command's change to a server on SQLite, within one
//! interval. No cron job needed.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::authz::AuthzService;
use latchkey_core::keys::{KeyManager, KeyRetention};
use latchkey_core::store::Store;
use latchkey_core::tokens::TokenService;

use crate::clock::now;

#[derive(Clone, Copy, Debug)]
pub struct JanitorSettings {
    pub interval: Duration,
    pub batch: u32,
    /// The longest JWT lifetime the settings allow; retired keys stay published at least this
    /// long, or longer when a client's own JWT lifetime is longer (read from the store), plus the
    /// time servers take to stop signing with them (see [`KeyManager::forget_retired`]).
    pub max_jwt_lifetime: i64,
}

/// Runs forever; spawn it.
pub async fn run<S: Store>(
    tokens: Arc<TokenService<S>>,
    keys: Arc<KeyManager<S>>,
    authz: Arc<AuthzService<S>>,
    settings: JanitorSettings,
) {
    let mut tick = tokio::time::interval(settings.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sweep(&tokens, &keys, &authz, settings).await;
    }
}

/// One pass; public so tests and `latchkey` can run it on demand.
pub async fn sweep<S: Store>(
    tokens: &TokenService<S>,
    keys: &KeyManager<S>,
    authz: &AuthzService<S>,
    settings: JanitorSettings,
) {
    let now = now();
    // Bounded batches, repeated while full, so one pass never holds a long lock.
    loop {
        match tokens.store().purge_expired(now, settings.batch).await {
            Ok(purged) => {
                for (kind, n) in [
                    ("access_tokens", purged.access_tokens),
                    ("refresh_tokens", purged.refresh_tokens),
                    ("refresh_families", purged.families),
                    ("revoked_jtis", purged.revoked_jtis),
                ] {
                    metrics::counter!("latchkey_janitor_removed_total", "kind" => kind)
                        .increment(n);
                }
                let full = [
                    purged.access_tokens,
                    purged.refresh_tokens,
                    purged.families,
                    purged.revoked_jtis,
                ]
                .iter()
                .any(|&n| n >= u64::from(settings.batch));
                if purged.total() > 0 {
                    tracing::debug!(?purged, "janitor removed expired rows");
                }
                if !full {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "janitor could not purge");
                break;
            }
        }
    }
    let (store, batch) = (tokens.store(), settings.batch);
    // Sealed successor pairs whose grace window has ended: no second refresh may use them any
    // more, and a database dump should not hold them.
    let rotated_before = now - tokens.settings().refresh_grace;
    drain("sealed_successors", batch, || {
        store.clear_successors(rotated_before, batch)
    })
    .await;
    // Authorization codes past the time a replay of them still matters.
    drain("authorization_codes", batch, || {
        tokens.purge_codes(now, batch)
    })
    .await;
    // Browser sessions past their idle or absolute end: refused already.
    drain("sessions", batch, || {
        store.purge_expired_sessions(now, batch)
    })
    .await;
    // Password attempt windows that have ended, in the database nodes share.
    let throttle = tokens.sign_in().throttle();
    drain("password_limits", batch, || {
        throttle.purge_ended(now, batch)
    })
    .await;
    // Users' not-before instants older than the longest life a JWT can have: every token they
    // refuse has expired, and the revocation feed's full read stays bounded.
    match store.max_client_jwt_lifetime().await {
        Ok(clients) => {
            let longest = settings.max_jwt_lifetime.max(clients.unwrap_or(0));
            let before = now.saturating_sub(longest);
            drain("not_before", batch, || {
                store.purge_not_before(before, batch)
            })
            .await;
        }
        Err(e) => tracing::warn!(error = %e, "janitor could not read the clients' JWT lifetimes"),
    }
    if let Err(e) = tokens.sign_in().refresh_decoys().await {
        tracing::warn!(error = %e, "janitor could not read the password hash mix");
    }
    let retention = KeyRetention {
        max_jwt_lifetime: settings.max_jwt_lifetime,
        // Every server reloads its keys once per janitor interval, at the end of this sweep.
        reload_interval: i64::try_from(settings.interval.as_secs()).unwrap_or(i64::MAX),
    };
    match keys.forget_retired(now, retention).await {
        Ok(n) if n > 0 => tracing::info!(removed = n, "retired signing keys forgotten"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "janitor could not forget retired keys"),
    }
    match keys.reload(tokens.keys()).await {
        Ok(true) => tokens.forget_introspections(),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "janitor could not reload signing keys"),
    }
    if let Err(e) = authz.reload_if_changed(now).await {
        tracing::warn!(error = %e, "janitor could not reload the authz rules");
    }
}

/// Runs `purge` (one bounded batch of `kind`) until a batch comes back short.
async fn drain<F, E>(kind: &'static str, batch: u32, mut purge: impl FnMut() -> F)
where
    F: std::future::Future<Output = Result<u64, E>>,
    E: std::fmt::Display,
{
    loop {
        match purge().await {
            Ok(n) => {
                metrics::counter!("latchkey_janitor_removed_total", "kind" => kind).increment(n);
                if n < u64::from(batch) {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, kind, "janitor could not purge");
                break;
            }
        }
    }
}
