//! Action implication (`g2`), closed at load.
//!
//! The matcher's `r.act == p.act || g2(p.act, r.act)` holds when the requested
//! action is reachable from the line's action in at most [`MAX_LINKS`] `g2`
//! links (pycasbin's `max_hierarchy_level = 10` counts the start). For each
//! action this index keeps the sorted list of `p`-line actions that cover it,
//! so a check looks the requested action up once.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use crate::intern::Sym;
use crate::nodeset::NodeSet;
use crate::roles::MAX_LINKS;

#[derive(Debug, Clone, Default)]
pub(crate) struct ActionIndex {
    /// requested action -> sorted `p` actions that grant or deny it
    covering: HashMap<Sym, Box<[Sym]>, RandomState>,
}

impl ActionIndex {
    /// `implications` are `(granted, implied)` pairs; `line_actions` are the
    /// actions that appear in `p` lines.
    pub(crate) fn build(implications: &[(Sym, Sym)], line_actions: &[Sym]) -> Self {
        let mut implied_from: HashMap<Sym, Vec<Sym>, RandomState> = HashMap::default();
        for &(granted, implied) in implications {
            implied_from.entry(implied).or_default().push(granted);
        }
        let on_lines: std::collections::HashSet<Sym, RandomState> =
            line_actions.iter().copied().collect();

        let mut covering = HashMap::default();
        let starts = implied_from.keys().copied().chain(on_lines.iter().copied());
        for action in starts {
            if covering.contains_key(&action) {
                continue;
            }
            // Walk the implications backwards: who implies `action` within
            // MAX_LINKS links? (A shortest path of length <= 9 either way.)
            let mut seen = NodeSet::default();
            seen.insert(action);
            let mut frontier = vec![action];
            for _ in 0..MAX_LINKS {
                let mut next = Vec::new();
                for node in &frontier {
                    for &up in implied_from.get(node).map_or(&[][..], Vec::as_slice) {
                        if seen.insert(up) {
                            next.push(up);
                        }
                    }
                }
                if next.is_empty() {
                    break;
                }
                frontier = next;
            }
            let mut sources: Vec<Sym> = seen
                .into_vec()
                .into_iter()
                .filter(|a| on_lines.contains(a))
                .collect();
            sources.sort_unstable();
            if !sources.is_empty() {
                covering.insert(action, sources.into_boxed_slice());
            }
        }
        ActionIndex { covering }
    }

    /// The `p`-line actions that cover `action` (itself included), sorted.
    pub(crate) fn covering(&self, action: Sym) -> &[Sym] {
        self.covering.get(&action).map_or(&[], |s| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implication_chains_stop_after_nine_links() {
        // a0 -> a1 -> ... -> a11; only a0 appears on a p line.
        let chain: Vec<(Sym, Sym)> = (0..11).map(|i| (Sym(i), Sym(i + 1))).collect();
        let idx = ActionIndex::build(&chain, &[Sym(0)]);
        assert_eq!(idx.covering(Sym(0)), &[Sym(0)]);
        assert_eq!(idx.covering(Sym(9)), &[Sym(0)]);
        assert!(idx.covering(Sym(10)).is_empty());
    }

    #[test]
    fn cycles_and_shared_targets() {
        let edges = [(Sym(1), Sym(2)), (Sym(2), Sym(1)), (Sym(3), Sym(2))];
        let idx = ActionIndex::build(&edges, &[Sym(1), Sym(3), Sym(4)]);
        assert_eq!(idx.covering(Sym(2)), &[Sym(1), Sym(3)]);
        assert_eq!(idx.covering(Sym(1)), &[Sym(1), Sym(3)]);
        assert_eq!(idx.covering(Sym(4)), &[Sym(4)]);
        assert!(idx.covering(Sym(7)).is_empty());
    }
}
