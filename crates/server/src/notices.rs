//! What a node does when it hears of a change (`latchkey_core::notice`): another node, a CLI
//! command or this node itself revoked a token, changed a user, a client, the keys or the authz
//! rules. Each cache drops or re-reads what the change made stale, at once; the time limits and
//! the janitor's periodic re-reads stay, as the safety net for a notice that never came
//! (docs/design/change-notices.md).

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::authz::AuthzService;
use latchkey_core::keys::KeyManager;
use latchkey_core::notice::{Change, Notice};
use latchkey_core::revocation_feed::RevocationFeed;
use latchkey_core::store::Store;
use latchkey_core::tokens::TokenService;
use tokio::sync::broadcast::error::RecvError;

use crate::clock::now;
use crate::services::Services;

/// How often the revocation feed re-reads its head without a notice: the bound on how late a
/// follower learns of a revocation whose notice was lost, or made on SQLite by another process.
pub const FEED_TICK: Duration = Duration::from_secs(1);

/// What a node holds in memory that a change elsewhere can make stale.
pub struct Caches<S> {
    tokens: Arc<TokenService<S>>,
    keys: Arc<KeyManager<S>>,
    authz: Arc<AuthzService<S>>,
    feed: Arc<RevocationFeed<S>>,
}

impl<S: Store> Caches<S> {
    pub fn of(services: &Services<S>) -> Self {
        Caches {
            tokens: services.tokens.clone(),
            keys: services.keys.clone(),
            authz: services.authz.clone(),
            feed: services.feed.clone(),
        }
    }

    /// Runs forever; spawn it.
    pub async fn follow(self) {
        let mut notices = self.tokens.store().notices();
        let mut tick = tokio::time::interval(FEED_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                heard = notices.recv() => match heard {
                    Ok(notice) => self.hear(notice).await,
                    // Fell behind a burst: whatever it skipped is re-read.
                    Err(RecvError::Lagged(_)) => self.hear(Notice::Missed).await,
                    Err(RecvError::Closed) => return,
                },
                _ = tick.tick() => self.refresh_feed().await,
            }
        }
    }

    /// Drops or re-reads what `notice` made stale.
    pub async fn hear(&self, notice: Notice) {
        let change = match notice {
            Notice::Change(change) => change,
            Notice::Missed => Change::Everything,
        };
        metrics::counter!("latchkey_change_notices_total", "kind" => kind(&change)).increment(1);
        self.tokens.forget(&change);
        match change {
            Change::Revocations | Change::User(_) => self.refresh_feed().await,
            Change::Client(_) => {}
            Change::Keys => self.reload_keys().await,
            Change::Authz => self.reload_authz().await,
            Change::Everything => {
                self.refresh_feed().await;
                self.reload_keys().await;
                self.reload_authz().await;
            }
        }
    }

    async fn refresh_feed(&self) {
        if let Err(e) = self.feed.refresh().await {
            tracing::warn!(error = %e, "cannot read the revocation feed's head");
        }
    }

    async fn reload_keys(&self) {
        if let Err(e) = self.keys.reload(self.tokens.keys()).await {
            tracing::warn!(error = %e, "cannot reload the signing keys after a notice");
        }
    }

    async fn reload_authz(&self) {
        if let Err(e) = self.authz.reload_if_changed(now()).await {
            tracing::warn!(error = %e, "cannot reload the authz rules after a notice");
        }
    }
}

fn kind(change: &Change) -> &'static str {
    match change {
        Change::Revocations => "revocations",
        Change::User(_) => "user",
        Change::Client(_) => "client",
        Change::Keys => "keys",
        Change::Authz => "authz",
        Change::Everything => "everything",
    }
}
