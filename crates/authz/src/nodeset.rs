//! An insertion-ordered set of `Sym`s for graph walks: a plain vector while
//! small (the usual case: a user holds a handful of roles), with a hash set
//! added once it grows, so large fan-outs stay linear.

use std::collections::HashSet;

use foldhash::fast::RandomState;

use crate::intern::Sym;

const SMALL: usize = 32;

#[derive(Debug, Default, Clone)]
pub(crate) struct NodeSet {
    order: Vec<Sym>,
    index: Option<HashSet<Sym, RandomState>>,
}

impl NodeSet {
    /// Add `sym`; `true` if it was not there yet.
    pub(crate) fn insert(&mut self, sym: Sym) -> bool {
        if self.contains(sym) {
            return false;
        }
        self.order.push(sym);
        match &mut self.index {
            Some(index) => {
                index.insert(sym);
            }
            None if self.order.len() > SMALL => {
                self.index = Some(self.order.iter().copied().collect());
            }
            None => {}
        }
        true
    }

    /// Empty the set, keeping its allocation for reuse.
    pub(crate) fn clear(&mut self) {
        self.order.clear();
        if let Some(index) = &mut self.index {
            index.clear();
        }
    }

    pub(crate) fn contains(&self, sym: Sym) -> bool {
        match &self.index {
            Some(index) => index.contains(&sym),
            None => self.order.contains(&sym),
        }
    }

    pub(crate) fn as_slice(&self) -> &[Sym] {
        &self.order
    }

    pub(crate) fn into_vec(self) -> Vec<Sym> {
        self.order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_a_set_across_the_switch() {
        let mut s = NodeSet::default();
        for i in 0..100 {
            assert!(s.insert(Sym(i % 70)) == (i < 70));
        }
        assert_eq!(s.as_slice().len(), 70);
        assert!(s.contains(Sym(69)) && !s.contains(Sym(70)));
        s.clear();
        assert!(!s.contains(Sym(1)) && s.insert(Sym(1)) && s.contains(Sym(1)));
    }
}
