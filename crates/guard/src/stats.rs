//! Counters of what the guard and the authz client did, for tests, health pages and metrics. Each is also exported as a
//! `metrics` counter (`latchkey_guard_*_total`) for a Prometheus recorder, if one is installed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of [`Guard::stats`](crate::Guard::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
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
    /// Polls of the revocation feed answered.
    pub revocation_polls: u64,
    /// Polls of the revocation feed that failed (unreachable, an error status such as a 401 for
    /// wrong credentials, or an answer that is not the feed's JSON).
    pub revocation_poll_failures: u64,
    /// JWTs refused because the feed revoked them.
    pub revoked_refusals: u64,
    /// JWTs refused because the feed was stale and their class fails closed.
    pub stale_refusals: u64,
    /// JWTs let through while the feed was stale because their class fails open.
    pub stale_passes: u64,
    /// The cursor of the last feed answer the guard caught up with; `None` before the first.
    pub revocation_cursor: Option<i64>,
    /// How long ago the guard last caught up with the feed (whole seconds); `None` before the
    /// first time or without a feed. Past the staleness limit, the fail modes apply.
    pub revocation_feed_age: Option<Duration>,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    jwks_fetches: AtomicU64,
    verifications: AtomicU64,
    cache_hits: AtomicU64,
    introspections: AtomicU64,
    deprecated_opaque_uses: AtomicU64,
    revocation_polls: AtomicU64,
    revocation_poll_failures: AtomicU64,
    revoked_refusals: AtomicU64,
    stale_refusals: AtomicU64,
    stale_passes: AtomicU64,
}

/// One of the counters.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Counter {
    JwksFetch,
    Verification,
    CacheHit,
    Introspection,
    DeprecatedOpaqueUse,
    RevocationPoll,
    RevocationPollFailure,
    RevokedRefusal,
    StaleRefusal,
    StalePass,
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
            Counter::RevocationPoll => (
                &self.revocation_polls,
                "latchkey_guard_revocation_polls_total",
            ),
            Counter::RevocationPollFailure => (
                &self.revocation_poll_failures,
                "latchkey_guard_revocation_poll_failures_total",
            ),
            Counter::RevokedRefusal => (
                &self.revoked_refusals,
                "latchkey_guard_revoked_refusals_total",
            ),
            Counter::StaleRefusal => (
                &self.stale_refusals,
                "latchkey_guard_revocation_stale_refusals_total",
            ),
            Counter::StalePass => (
                &self.stale_passes,
                "latchkey_guard_revocation_stale_passes_total",
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
            revocation_polls: get(&self.revocation_polls),
            revocation_poll_failures: get(&self.revocation_poll_failures),
            revoked_refusals: get(&self.revoked_refusals),
            stale_refusals: get(&self.stale_refusals),
            stale_passes: get(&self.stale_passes),
            revocation_cursor: None,
            revocation_feed_age: None,
        }
    }
}

/// A snapshot of [`AuthzClient::stats`](crate::AuthzClient::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthzStats {
    /// Decisions asked of the client (each check of a batch counts).
    pub checks: u64,
    /// Decisions answered from the local cache.
    pub cache_hits: u64,
    /// Requests sent to the check endpoint (a batch is one).
    pub server_checks: u64,
    /// Polls of the change feed answered.
    pub feed_polls: u64,
    /// Polls of the change feed that failed.
    pub feed_errors: u64,
    /// Times the whole cache was dropped because the rules' version moved.
    pub invalidations: u64,
}

/// One of the authz client's counters.
#[derive(Clone, Copy, Debug)]
pub(crate) enum AuthzCounter {
    Check,
    CacheHit,
    ServerCheck,
    FeedPoll,
    FeedError,
    Invalidation,
}

#[derive(Debug, Default)]
pub(crate) struct AuthzCounters {
    checks: AtomicU64,
    cache_hits: AtomicU64,
    server_checks: AtomicU64,
    feed_polls: AtomicU64,
    feed_errors: AtomicU64,
    invalidations: AtomicU64,
}

impl AuthzCounters {
    pub(crate) fn count(&self, counter: AuthzCounter, n: u64) {
        let (cell, name) = match counter {
            AuthzCounter::Check => (&self.checks, "latchkey_guard_authz_checks_total"),
            AuthzCounter::CacheHit => (&self.cache_hits, "latchkey_guard_authz_cache_hits_total"),
            AuthzCounter::ServerCheck => (
                &self.server_checks,
                "latchkey_guard_authz_server_checks_total",
            ),
            AuthzCounter::FeedPoll => (&self.feed_polls, "latchkey_guard_authz_feed_polls_total"),
            AuthzCounter::FeedError => {
                (&self.feed_errors, "latchkey_guard_authz_feed_errors_total")
            }
            AuthzCounter::Invalidation => (
                &self.invalidations,
                "latchkey_guard_authz_invalidations_total",
            ),
        };
        cell.fetch_add(n, Ordering::Relaxed);
        metrics::counter!(name).increment(n);
    }

    pub(crate) fn snapshot(&self) -> AuthzStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        AuthzStats {
            checks: get(&self.checks),
            cache_hits: get(&self.cache_hits),
            server_checks: get(&self.server_checks),
            feed_polls: get(&self.feed_polls),
            feed_errors: get(&self.feed_errors),
            invalidations: get(&self.invalidations),
        }
    }
}
