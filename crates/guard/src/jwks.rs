//! The verifying keys: fetched from the issuer's JWK Set, parsed once, cached, and refreshed.
//!
//! - A key set younger than `jwks_refresh_after` is used as is.
//! - An older one is still used while one background task fetches its successor
//!   (stale-while-revalidate), until `jwks_max_staleness` after the last successful fetch: past
//!   that, requests wait for a fetch and get 503 if it fails.
//! - A token naming an unknown `kid` (the issuer rotated its keys) triggers a refetch, unless
//!   the key set was fetched, or a fetch attempted, less than `jwks_refetch_interval` ago.
//!
//! Fetches are single-flight: one at a time, and a request that waited for one uses its result.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use latchkey_token::{JwkSet, VerifyingKeys};
use reqwest::Url;
use tokio::sync::Mutex;

use crate::fetch::{FetchError, Issuer};
use crate::stats::{Counter, Stats};

/// One parsed key set and when it was fetched.
pub(crate) struct KeySet {
    pub(crate) keys: VerifyingKeys,
    fetched_at: Instant,
    /// Increases with every key set stored; 0 means "none yet".
    pub(crate) generation: u64,
}

/// No key set can be used: none was ever fetched, or the last is older than the staleness limit,
/// and the issuer cannot be reached now.
#[derive(Debug, thiserror::Error)]
#[error("no usable key set")]
pub(crate) struct KeysUnavailable;

enum Source {
    Static,
    Remote {
        issuer: Arc<Issuer>,
        /// Configured; else the discovery document's `jwks_uri`.
        jwks_uri: Option<Url>,
    },
}

/// Timings of [`KeyStore`], from the configuration.
pub(crate) struct KeyTimings {
    pub(crate) refresh_after: Duration,
    pub(crate) refetch_interval: Duration,
    pub(crate) max_staleness: Duration,
}

enum RefreshError {
    /// The last attempt is less than `refetch_interval` old.
    TooSoon,
    /// The fetch failed (and was logged).
    Failed,
}

pub(crate) struct KeyStore {
    source: Source,
    current: ArcSwapOption<KeySet>,
    /// Held while fetching; holds the instant of the last attempt.
    fetching: Mutex<Option<Instant>>,
    refreshing: AtomicBool,
    timings: KeyTimings,
    stats: Arc<Stats>,
}

impl KeyStore {
    /// Keys given once and never fetched.
    pub(crate) fn fixed(keys: VerifyingKeys, timings: KeyTimings, stats: Arc<Stats>) -> Self {
        let set = KeySet {
            keys,
            fetched_at: Instant::now(),
            generation: 1,
        };
        KeyStore {
            source: Source::Static,
            current: ArcSwapOption::from_pointee(set),
            fetching: Mutex::new(None),
            refreshing: AtomicBool::new(false),
            timings,
            stats,
        }
    }

    /// Keys fetched from `jwks_uri`, or from the issuer's discovered `jwks_uri` when `None`.
    pub(crate) fn remote(
        issuer: Arc<Issuer>,
        jwks_uri: Option<Url>,
        timings: KeyTimings,
        stats: Arc<Stats>,
    ) -> Self {
        KeyStore {
            source: Source::Remote { issuer, jwks_uri },
            current: ArcSwapOption::empty(),
            fetching: Mutex::new(None),
            refreshing: AtomicBool::new(false),
            timings,
            stats,
        }
    }

    /// The key set to verify with now.
    pub(crate) async fn current(self: &Arc<Self>) -> Result<Arc<KeySet>, KeysUnavailable> {
        let Some(set) = self.current.load_full() else {
            return self.refresh(0).await.map_err(|_| KeysUnavailable);
        };
        if matches!(self.source, Source::Static) {
            return Ok(set);
        }
        let age = set.fetched_at.elapsed();
        if age < self.timings.refresh_after {
            return Ok(set);
        }
        if age < self.timings.max_staleness {
            self.refresh_in_background(set.generation);
            return Ok(set);
        }
        // Too stale to trust: this request waits for a fresh set, or fails.
        self.refresh(set.generation)
            .await
            .map_err(|_| KeysUnavailable)
    }

    /// A newer key set than `seen` after a token named a `kid` that `seen` does not have, if one
    /// can be had now (see the module docs for the rate limit).
    pub(crate) async fn after_unknown_kid(&self, seen: &KeySet) -> Option<Arc<KeySet>> {
        if matches!(self.source, Source::Static) {
            return None;
        }
        self.refresh(seen.generation).await.ok()
    }

    /// Loads the key set now (for start-up, so the first request does not wait).
    pub(crate) async fn warm(self: &Arc<Self>) -> Result<(), KeysUnavailable> {
        self.current().await.map(|_| ())
    }

    fn refresh_in_background(self: &Arc<Self>, seen: u64) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let _ = this.refresh(seen).await;
            this.refreshing.store(false, Ordering::Release);
        });
    }

    /// Fetches a key set to replace generation `seen`, single-flight and rate-limited. If another
    /// fetch replaced `seen` while this one waited, its result is returned instead.
    async fn refresh(&self, seen: u64) -> Result<Arc<KeySet>, RefreshError> {
        let mut last_attempt = self.fetching.lock().await;
        let current = self.current.load_full();
        if let Some(set) = &current {
            if set.generation != seen {
                return Ok(set.clone());
            }
        }
        if last_attempt.is_some_and(|at| at.elapsed() < self.timings.refetch_interval) {
            return Err(RefreshError::TooSoon);
        }
        *last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                let set = Arc::new(KeySet {
                    keys,
                    fetched_at: Instant::now(),
                    generation: current.map_or(0, |c| c.generation) + 1,
                });
                tracing::debug!(keys = set.keys.len(), "latchkey-guard: key set fetched");
                self.current.store(Some(set.clone()));
                Ok(set)
            }
            Err(e) => {
                tracing::warn!(error = %e, "latchkey-guard: key set fetch failed");
                Err(RefreshError::Failed)
            }
        }
    }

    async fn fetch(&self) -> Result<VerifyingKeys, FetchError> {
        let Source::Remote { issuer, jwks_uri } = &self.source else {
            return Err(FetchError::BadDiscovery(
                "static keys are never fetched".into(),
            ));
        };
        self.stats.count(Counter::JwksFetch);
        let uri = match jwks_uri {
            Some(uri) => uri,
            None => &issuer.endpoints().await?.jwks_uri,
        };
        let set: JwkSet = issuer.get_json(uri).await?;
        VerifyingKeys::from_jwk_set(&set)
            .map_err(|e| FetchError::BadDiscovery(format!("JWK Set at {uri}: {e}")))
    }
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("keys", &self.current.load().as_ref().map(|s| &s.keys))
            .finish_non_exhaustive()
    }
}
