//! A decision cache in front of [`Engine`].
//!
//! It caches what the role lines say about `(subject, action, scope)` — never
//! the staff answer, which belongs to the caller's directory and may change
//! without the engine knowing. Entries carry the engine's version: a mutation
//! bumps it, and an entry from an older version is recomputed (mutations
//! through this wrapper also drop every entry at once).
//!
//! Layout: 64 shards behind read-write locks, each holding two generations.
//! New entries go to the current generation; when it reaches its share of the
//! capacity it becomes the previous one and the old previous one is dropped; a
//! hit in the previous generation is moved back to the current one. So memory
//! stays under twice the capacity whatever keys clients send, and entries in
//! use survive. (A general-purpose cache such as moka costs more per hit than
//! the uncached check it would save.)

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::sync::{PoisonError, RwLock};

use foldhash::fast::RandomState;

use crate::engine::{Decision, Engine, RoleOutcome};
use crate::error::AuthzError;
use crate::request::Request;

const SHARDS: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Entry {
    version: u64,
    outcome: RoleOutcome,
}

/// Key hash -> (key, entry). A hash collision replaces the older key; a
/// look-up compares the key, so a collision is only ever a miss.
type Generation = HashMap<u64, (Box<str>, Entry), RandomState>;

#[derive(Debug, Default)]
struct Shard {
    current: Generation,
    previous: Generation,
}

impl Shard {
    fn insert(&mut self, hash: u64, key: Box<str>, entry: Entry, limit: usize) {
        if self.current.len() >= limit && !self.current.contains_key(&hash) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(hash, (key, entry));
    }
}

/// [`Engine`] with a bounded, version-checked cache of role outcomes.
pub struct CachedEngine {
    engine: Engine,
    shards: Box<[RwLock<Shard>]>,
    per_shard: usize,
    hasher: RandomState,
}

impl std::fmt::Debug for CachedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedEngine")
            .field("engine", &self.engine)
            .field("capacity", &(self.per_shard * SHARDS))
            .finish_non_exhaustive()
    }
}

thread_local! {
    static KEY: RefCell<String> = RefCell::default();
}

impl CachedEngine {
    /// Wrap `engine`, keeping about `capacity` recent requests (at most twice
    /// that many entries).
    pub fn new(engine: Engine, capacity: usize) -> Self {
        let shards = (0..SHARDS).map(|_| RwLock::default()).collect();
        CachedEngine {
            engine,
            shards,
            per_shard: (capacity / SHARDS).max(1),
            hasher: RandomState::default(),
        }
    }

    /// Decide a request, from the cache when it holds a current entry.
    pub fn check(&self, request: &Request<'_>) -> Result<Decision, AuthzError> {
        let outcome = KEY
            .try_with(|buffer| match buffer.try_borrow_mut() {
                Ok(mut key) => self.outcome(request, &mut key),
                Err(_) => self.outcome(request, &mut String::new()),
            })
            .unwrap_or_else(|_| self.outcome(request, &mut String::new()));
        self.engine.decide(request, outcome)
    }

    fn outcome(&self, request: &Request<'_>, key: &mut String) -> RoleOutcome {
        write_key(request, key);
        let hash = self.hasher.hash_one(key.as_str());
        let version = self.engine.version();
        // The top bits pick the shard; the maps hash the whole value again.
        let Some(shard) = self.shards.get((hash >> 58) as usize % SHARDS) else {
            return self.compute(request);
        };
        let promote = {
            let read = shard.read().unwrap_or_else(PoisonError::into_inner);
            let fresh =
                |(k, e): &(Box<str>, Entry)| (**k == **key && e.version == version).then_some(*e);
            if let Some(entry) = read.current.get(&hash).and_then(fresh) {
                return entry.outcome;
            }
            read.previous.get(&hash).and_then(fresh)
        };
        let entry = promote.unwrap_or_else(|| Entry {
            version,
            outcome: self.compute(request),
        });
        let mut write = shard.write().unwrap_or_else(PoisonError::into_inner);
        write.insert(hash, key.as_str().into(), entry, self.per_shard);
        entry.outcome
    }

    fn compute(&self, request: &Request<'_>) -> RoleOutcome {
        self.engine
            .role_outcome(request.subject(), request.action(), request.scope())
    }

    /// Drop every cached entry.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
            shard.current.clear();
            shard.previous.clear();
        }
    }

    /// The engine behind the cache.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Unwrap the engine.
    pub fn into_engine(self) -> Engine {
        self.engine
    }

    /// [`Engine::add_grouping`], then drop every cached entry if it changed.
    pub fn add_grouping(&mut self, subject: &str, role: &str, scope: &str) -> bool {
        let changed = self.engine.add_grouping(subject, role, scope);
        if changed {
            self.clear();
        }
        changed
    }

    /// [`Engine::remove_grouping`], then drop every cached entry if it changed.
    pub fn remove_grouping(&mut self, subject: &str, role: &str, scope: &str) -> bool {
        let changed = self.engine.remove_grouping(subject, role, scope);
        if changed {
            self.clear();
        }
        changed
    }
}

/// `len(subject):len(action):subject action scope` — unambiguous for any keys.
fn write_key(request: &Request<'_>, key: &mut String) {
    let (s, a, c) = (request.subject(), request.action(), request.scope());
    key.clear();
    // Writing to a String cannot fail.
    let _ = write!(key, "{}:{}:", s.len(), a.len());
    key.push_str(s);
    key.push_str(a);
    key.push_str(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(r: &Request<'_>) -> String {
        let mut k = String::new();
        write_key(r, &mut k);
        k
    }

    #[test]
    fn engines_are_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Engine>();
        send_sync::<CachedEngine>();
    }

    #[test]
    fn keys_do_not_collide_across_field_boundaries() {
        let a = Request::new("user^ab", "c", "lib^x").unwrap();
        let b = Request::new("user^a", "bc", "lib^x").unwrap();
        assert_ne!(key(&a), key(&b));
    }

    #[test]
    fn generations_bound_the_size_and_keep_what_is_used() {
        let entry = Entry {
            version: 0,
            outcome: RoleOutcome::default(),
        };
        let mut shard = Shard::default();
        for h in 0..10u64 {
            shard.insert(h, h.to_string().into(), entry, 4);
        }
        assert!(shard.current.len() + shard.previous.len() <= 8);
        assert!(shard.current.contains_key(&9));
        // Re-inserting an existing key never rotates.
        let before = shard.previous.len();
        shard.insert(9, "9".into(), entry, shard.current.len());
        assert_eq!(shard.previous.len(), before);
    }
}
