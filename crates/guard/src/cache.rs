//! Caches of verification results, keyed by the SHA-256 of the token (the token itself is never
//! kept), bounded in entries, each entry expiring when its token does. A hit costs one hash and
//! one lookup instead of a signature check or a round trip to the issuer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use moka::Expiry;

use crate::identity::Verified;

/// SHA-256 of a token.
pub(crate) type TokenKey = [u8; 32];

pub(crate) fn token_key(token: &str) -> TokenKey {
    let hash = digest::digest(&digest::SHA256, token.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(hash.as_ref());
    key
}

/// A cached result: what was verified, the token's `exp` (unix seconds), and the instant the
/// entry leaves the cache.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) verified: Arc<Verified>,
    pub(crate) exp: i64,
    until: Instant,
}

impl Entry {
    /// An entry that lives until the token's `exp` (plus `leeway`, seen from `now`), and never
    /// longer than `max_ttl`.
    pub(crate) fn new(
        verified: Arc<Verified>,
        exp: i64,
        now: i64,
        leeway: i64,
        max_ttl: Option<Duration>,
    ) -> Self {
        let left = exp.saturating_add(leeway.max(0)).saturating_sub(now).max(0);
        let mut ttl = Duration::from_secs(u64::try_from(left).unwrap_or(0));
        if let Some(max) = max_ttl {
            ttl = ttl.min(max);
        }
        Entry {
            verified,
            exp,
            until: Instant::now() + ttl,
        }
    }

    /// Still good at `now`? Checked on every hit as well: moka evicts lazily, and the wall clock
    /// is what `exp` is about.
    pub(crate) fn live(&self, now: i64, leeway: i64) -> Option<Arc<Verified>> {
        (now < self.exp.saturating_add(leeway.max(0)) && Instant::now() < self.until)
            .then(|| self.verified.clone())
    }
}

/// Per-entry expiry for moka: an entry expires at its own `until`.
pub(crate) struct UntilExpiry;

impl Expiry<TokenKey, Entry> for UntilExpiry {
    fn expire_after_create(
        &self,
        _: &TokenKey,
        entry: &Entry,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(entry.until.saturating_duration_since(created_at))
    }
}

/// Verified JWTs. With capacity 0 nothing is cached (every request pays for the signature).
pub(crate) struct VerificationCache {
    cache: Option<moka::sync::Cache<TokenKey, Entry>>,
    leeway: i64,
}

impl VerificationCache {
    pub(crate) fn new(capacity: u64, leeway: i64) -> Self {
        let cache = (capacity > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build()
        });
        VerificationCache { cache, leeway }
    }

    pub(crate) fn get(&self, key: &TokenKey, now: i64) -> Option<Arc<Verified>> {
        self.cache.as_ref()?.get(key)?.live(now, self.leeway)
    }

    pub(crate) fn insert(&self, key: TokenKey, verified: Arc<Verified>, exp: i64, now: i64) {
        if let Some(cache) = &self.cache {
            cache.insert(key, Entry::new(verified, exp, now, self.leeway, None));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::tests::claims;

    fn verified() -> Arc<Verified> {
        Arc::new(Verified::Jwt(claims()))
    }

    #[test]
    fn hits_until_exp_with_leeway() {
        let cache = VerificationCache::new(10, 5);
        let key = token_key("a.b.c");
        assert_ne!(key, token_key("a.b.d"));
        cache.insert(key, verified(), 1_000, 900);
        assert!(cache.get(&key, 900).is_some());
        assert!(cache.get(&key, 1_004).is_some());
        assert!(cache.get(&key, 1_005).is_none());
        assert!(cache.get(&token_key("other"), 900).is_none());
    }

    #[test]
    fn an_expired_token_is_not_kept() {
        let cache = VerificationCache::new(10, 0);
        let key = token_key("a.b.c");
        cache.insert(key, verified(), 1_000, 1_000);
        assert!(cache.get(&key, 999).is_none());
    }

    #[test]
    fn capacity_zero_turns_it_off() {
        let cache = VerificationCache::new(0, 0);
        let key = token_key("a.b.c");
        cache.insert(key, verified(), 1_000, 900);
        assert!(cache.get(&key, 900).is_none());
    }

    #[test]
    fn max_ttl_caps_the_entry() {
        let entry = Entry::new(verified(), 10_000, 0, 0, Some(Duration::ZERO));
        assert!(entry.live(0, 0).is_none());
        let entry = Entry::new(verified(), 10_000, 0, 0, Some(Duration::from_secs(60)));
        assert!(entry.live(0, 0).is_some());
    }
}
