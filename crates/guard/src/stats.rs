//! Counters of what the guard did, for tests, health pages and metrics. Each is also exported as a
//! `metrics` counter (`latchkey_guard_*_total`) for a Prometheus recorder, if one is installed.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of [`Guard::stats`](crate::Guard::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuardStats {
    /// Key-set fetches attempted (successful or not).
    pub jwks_fetches: u64,
    /// JWT verifications attempted (verification cache misses).
    pub verifications: u64,
    /// Requests answered from the verification cache.
    pub cache_hits: u64,
    /// Calls to the introspection endpoint.
    pub introspections: u64,
    /// Requests authenticated by a deprecated opaque token.
    pub deprecated_opaque_uses: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    jwks_fetches: AtomicU64,
    verifications: AtomicU64,
    cache_hits: AtomicU64,
    introspections: AtomicU64,
    deprecated_opaque_uses: AtomicU64,
}

/// One of the counters.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Counter {
    JwksFetch,
    Verification,
    CacheHit,
    Introspection,
    DeprecatedOpaqueUse,
}

impl Stats {
    pub(crate) fn count(&self, counter: Counter) {
        let (cell, name) = match counter {
            Counter::JwksFetch => (&self.jwks_fetches, "latchkey_guard_jwks_fetches_total"),
            Counter::Verification => (&self.verifications, "latchkey_guard_verifications_total"),
            Counter::CacheHit => (&self.cache_hits, "latchkey_guard_cache_hits_total"),
            Counter::Introspection => (&self.introspections, "latchkey_guard_introspections_total"),
            Counter::DeprecatedOpaqueUse => (
                &self.deprecated_opaque_uses,
                "latchkey_guard_deprecated_opaque_tokens_total",
            ),
        };
        cell.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(name).increment(1);
    }

    pub(crate) fn snapshot(&self) -> GuardStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        GuardStats {
            jwks_fetches: get(&self.jwks_fetches),
            verifications: get(&self.verifications),
            cache_hits: get(&self.cache_hits),
            introspections: get(&self.introspections),
            deprecated_opaque_uses: get(&self.deprecated_opaque_uses),
        }
    }
}
