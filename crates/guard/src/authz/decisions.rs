//! The authz client's decision cache: answers labelled with the rules' version they were made
//! at, keyed by the SHA-256 of the (subject, action, scope) triple, bounded in entries and in age.
//!
//! An entry is a hit only while its version is the newest version seen (from the change feed or
//! from a check answer). So moving the version drops every older answer at once, and an answer
//! that was in flight while the version moved can never be served later, whatever the order of
//! the insert and the move.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use aws_lc_rs::digest;

/// SHA-256 of a length-prefixed triple: distinct triples never share a key (no separator games),
/// and the cache keeps 32 bytes per key whatever the key lengths.
pub(crate) type Key = [u8; 32];

pub(crate) fn key(subject: &str, action: &str, scope: &str) -> Key {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in [subject, action, scope] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part.as_bytes());
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    allowed: bool,
    version: i64,
}

pub(crate) struct Decisions {
    /// `None` when the capacity is 0: every check asks the server.
    cache: Option<moka::future::Cache<Key, Entry>>,
    /// The newest rules version seen; -1 before the first.
    newest: AtomicI64,
}

impl Decisions {
    /// At most `capacity` entries, each kept at most `ttl`: the bound on staleness when the change
    /// feed cannot be reached.
    pub(crate) fn new(capacity: u64, ttl: Duration) -> Self {
        let cache = (capacity > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build()
        });
        Decisions {
            cache,
            newest: AtomicI64::new(-1),
        }
    }

    /// The newest rules version seen, -1 before the first.
    pub(crate) fn newest(&self) -> i64 {
        self.newest.load(Ordering::SeqCst)
    }

    /// A cached answer made at the newest version.
    pub(crate) async fn get(&self, key: &Key) -> Option<bool> {
        let entry = self.cache.as_ref()?.get(key).await?;
        (entry.version == self.newest()).then_some(entry.allowed)
    }

    /// Remembers an answer made at `version`; an answer older than the newest version seen is
    /// not kept. `true` when `version` is newer than any seen (the cache was dropped).
    pub(crate) async fn insert(&self, key: Key, allowed: bool, version: i64) -> bool {
        let moved = self.advance(version);
        if let Some(cache) = &self.cache {
            if version == self.newest() {
                cache.insert(key, Entry { allowed, version }).await;
            }
        }
        moved
    }

    /// Notes that the rules are at `version`; when that is newer than any seen, every cached
    /// answer is dropped (`true`). Versions only grow, so an older one (a node that has not
    /// reloaded yet) changes nothing.
    pub(crate) fn advance(&self, version: i64) -> bool {
        let before = self.newest.fetch_max(version, Ordering::SeqCst);
        if version <= before {
            return false;
        }
        // The version check in `get` already hides the old entries; this frees their memory.
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_the_parts_apart() {
        assert_ne!(key("user^a", "b", "c"), key("user^ab", "", "c"));
        assert_eq!(key("user^a", "b", "c"), key("user^a", "b", "c"));
    }

    #[tokio::test]
    async fn answers_hit_only_at_the_newest_version() {
        let d = Decisions::new(100, Duration::from_secs(60));
        let k = key("user^a", "act^v", "lib^x");
        assert!(d.insert(k, true, 3).await, "the first version is news");
        assert_eq!(d.get(&k).await, Some(true));
        assert!(!d.advance(3));
        assert!(!d.advance(2), "an older node's version changes nothing");
        assert_eq!(d.get(&k).await, Some(true));
        assert!(d.advance(4));
        assert_eq!(d.get(&k).await, None);
        // An answer made at 3 but arriving after the move is not kept.
        assert!(!d.insert(k, true, 3).await);
        assert_eq!(d.get(&k).await, None);
        assert!(!d.insert(k, false, 4).await);
        assert_eq!(d.get(&k).await, Some(false));
    }

    #[tokio::test]
    async fn the_ttl_bounds_an_answer_and_capacity_zero_keeps_none() {
        let d = Decisions::new(100, Duration::ZERO);
        let k = key("user^a", "act^v", "lib^x");
        d.insert(k, true, 1).await;
        assert_eq!(d.get(&k).await, None);
        let off = Decisions::new(0, Duration::from_secs(60));
        off.insert(k, true, 1).await;
        assert_eq!(off.get(&k).await, None);
        assert_eq!(off.newest(), 1);
    }
}
