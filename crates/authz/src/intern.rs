//! String interning: every key the policy mentions gets a dense `Sym`, so the
//! indexes compare and hash `u32`s. A request key that was never interned
//! cannot equal any key of the policy, which the evaluator uses to stop early.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

/// An interned key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Sym(pub(crate) u32);

impl Sym {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// Interns keys; hashing is seeded per process (foldhash), since request
/// keys come from clients.
#[derive(Debug, Default, Clone)]
pub(crate) struct Interner {
    ids: HashMap<Arc<str>, Sym, RandomState>,
    names: Vec<Arc<str>>,
}

impl Interner {
    /// The `Sym` for `key`, interning it if new.
    pub(crate) fn intern(&mut self, key: &str) -> Sym {
        if let Some(&sym) = self.ids.get(key) {
            return sym;
        }
        // More than u32::MAX distinct keys cannot be held in memory here;
        // saturating keeps this total without a panic path.
        let sym = Sym(u32::try_from(self.names.len()).unwrap_or(u32::MAX));
        let name: Arc<str> = Arc::from(key);
        self.names.push(Arc::clone(&name));
        self.ids.insert(name, sym);
        sym
    }

    /// The `Sym` for `key`, if the policy ever mentioned it.
    pub(crate) fn get(&self, key: &str) -> Option<Sym> {
        self.ids.get(key).copied()
    }

    /// The key behind a `Sym`.
    pub(crate) fn name(&self, sym: Sym) -> &str {
        self.names.get(sym.index()).map_or("", |n| n)
    }

    /// How many keys are interned (all `Sym`s are below this).
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_stable() {
        let mut i = Interner::default();
        let a = i.intern("user^\u{e9}");
        let b = i.intern("role^r");
        assert_eq!(i.intern("user^\u{e9}"), a);
        assert_eq!((a.0, b.0), (0, 1));
        assert_eq!(i.name(b), "role^r");
        assert_eq!(i.get("nope"), None);
        assert_eq!(i.len(), 2);
    }
}
