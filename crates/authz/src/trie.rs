//! A byte trie of scope-pattern prefixes: one walk over a request scope finds
//! every prefix pattern (`lib^*`, `course-v1^course-v1:OpenedX+*`, `*`) that the
//! scope starts with. Walking bytes never slices a string, and a byte-prefix
//! test is exactly casbin's `keyMatch` on UTF-8.

/// Identifier of a scope pattern in the permission index.
pub(crate) type PatId = u32;

#[derive(Debug, Clone, Default)]
struct Node {
    /// Sorted by byte.
    children: Vec<(u8, u32)>,
    terminal: Option<PatId>,
}

#[derive(Debug, Clone)]
pub(crate) struct PrefixTrie {
    nodes: Vec<Node>,
}

impl Default for PrefixTrie {
    fn default() -> Self {
        PrefixTrie {
            nodes: vec![Node::default()],
        }
    }
}

impl PrefixTrie {
    /// The id stored for `prefix`, if any.
    pub(crate) fn get(&self, prefix: &str) -> Option<PatId> {
        let mut at = 0usize;
        for byte in prefix.bytes() {
            at = self.child(at, byte)?;
        }
        self.nodes.get(at).and_then(|n| n.terminal)
    }

    /// Store `id` for `prefix` unless the prefix already has one.
    pub(crate) fn insert(&mut self, prefix: &str, id: PatId) {
        let mut at = 0usize;
        for byte in prefix.bytes() {
            at = match self.child(at, byte) {
                Some(next) => next,
                None => self.add_child(at, byte),
            };
        }
        if let Some(node) = self.nodes.get_mut(at) {
            node.terminal.get_or_insert(id);
        }
    }

    /// Call `found` with the id of every stored prefix of `key`, shortest first.
    pub(crate) fn for_each_prefix_of(&self, key: &str, mut found: impl FnMut(PatId)) {
        let mut at = 0usize;
        if let Some(id) = self.nodes.first().and_then(|n| n.terminal) {
            found(id);
        }
        for byte in key.bytes() {
            let Some(next) = self.child(at, byte) else {
                return;
            };
            at = next;
            if let Some(id) = self.nodes.get(at).and_then(|n| n.terminal) {
                found(id);
            }
        }
    }

    fn child(&self, at: usize, byte: u8) -> Option<usize> {
        let children = &self.nodes.get(at)?.children;
        let pos = children.binary_search_by_key(&byte, |&(b, _)| b).ok()?;
        children.get(pos).map(|&(_, next)| next as usize)
    }

    fn add_child(&mut self, at: usize, byte: u8) -> usize {
        let next = self.nodes.len();
        self.nodes.push(Node::default());
        if let Some(node) = self.nodes.get_mut(at) {
            let pos = node
                .children
                .binary_search_by_key(&byte, |&(b, _)| b)
                .unwrap_or_else(|insert_at| insert_at);
            // Node counts stay far below u32::MAX for any policy held in memory.
            node.children
                .insert(pos, (byte, u32::try_from(next).unwrap_or(u32::MAX)));
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_all_prefixes() {
        let mut t = PrefixTrie::default();
        t.insert("lib^", 1);
        t.insert("", 0);
        t.insert("lib^lib:\u{e9}", 2);
        t.insert("course-v1^", 3);
        t.insert("lib^", 9); // first id wins
        let mut seen = Vec::new();
        t.for_each_prefix_of("lib^lib:\u{e9}t\u{e9}", |id| seen.push(id));
        assert_eq!(seen, vec![0, 1, 2]);
        seen.clear();
        t.for_each_prefix_of("lib^lib:e", |id| seen.push(id));
        assert_eq!(seen, vec![0, 1]);
        assert_eq!(t.get("lib^"), Some(1));
        assert_eq!(t.get("lib"), None);
    }
}
