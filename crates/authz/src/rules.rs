//! Permission lines (`p`), indexed by `(subject, scope pattern)`.
//!
//! Each distinct pattern gets a `PatId`: patterns without `*` are exact scopes
//! (looked up by `Sym`), patterns with `*` are reduced to the prefix before
//! their first `*` (what `keyMatch` reads) and stored in a byte trie. A check
//! collects the patterns its scope matches once, then probes
//! `(role, pattern)` for each role the subject holds.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use crate::intern::{Interner, Sym};
use crate::keymatch::ScopePattern;
use crate::policy::Effect;
use crate::trie::{PatId, PrefixTrie};

/// Which effects the matching lines carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Effects {
    pub(crate) allow: bool,
    pub(crate) deny: bool,
}

impl Effects {
    fn add(&mut self, effect: Effect) {
        match effect {
            Effect::Allow => self.allow = true,
            Effect::Deny => self.deny = true,
        }
    }

    pub(crate) fn merge(&mut self, other: Effects) {
        self.allow |= other.allow;
        self.deny |= other.deny;
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Rules {
    exact: HashMap<Sym, PatId, RandomState>,
    prefixes: PrefixTrie,
    patterns: u32,
    /// `(subject, pattern)` -> `(action, effects)` sorted by action.
    lines: HashMap<(Sym, PatId), Vec<(Sym, Effects)>, RandomState>,
    /// subject -> patterns it has lines under.
    by_subject: HashMap<Sym, Vec<PatId>, RandomState>,
    deny_lines: usize,
}

impl Rules {
    /// Index one `p` line.
    pub(crate) fn add(
        &mut self,
        names: &Interner,
        subject: Sym,
        action: Sym,
        scope: Sym,
        effect: Effect,
    ) {
        let pattern = self.pattern_id(names.name(scope), scope);
        let list = self.lines.entry((subject, pattern)).or_default();
        match list.binary_search_by_key(&action, |&(a, _)| a) {
            Ok(at) => {
                if let Some((_, effects)) = list.get_mut(at) {
                    effects.add(effect);
                }
            }
            Err(at) => {
                let mut effects = Effects::default();
                effects.add(effect);
                list.insert(at, (action, effects));
                let patterns = self.by_subject.entry(subject).or_default();
                if !patterns.contains(&pattern) {
                    patterns.push(pattern);
                }
            }
        }
        if effect == Effect::Deny {
            self.deny_lines += 1;
        }
    }

    fn pattern_id(&mut self, text: &str, sym: Sym) -> PatId {
        match ScopePattern::parse(text) {
            ScopePattern::Exact(_) => *self.exact.entry(sym).or_insert_with(|| {
                self.patterns += 1;
                self.patterns
            }),
            ScopePattern::Prefix(prefix) => {
                if let Some(id) = self.prefixes.get(prefix) {
                    return id;
                }
                self.patterns += 1;
                self.prefixes.insert(prefix, self.patterns);
                self.patterns
            }
        }
    }

    /// Append the patterns that `scope` matches under `keyMatch`.
    pub(crate) fn patterns_matching(
        &self,
        scope: &str,
        scope_sym: Option<Sym>,
        out: &mut Vec<PatId>,
    ) {
        if let Some(id) = scope_sym.and_then(|s| self.exact.get(&s)) {
            out.push(*id);
        }
        self.prefixes.for_each_prefix_of(scope, |id| out.push(id));
    }

    /// Effects of the lines of `subject` under `pattern` whose action is one
    /// of `actions` (sorted).
    pub(crate) fn effects(&self, subject: Sym, pattern: PatId, actions: &[Sym]) -> Effects {
        let mut found = Effects::default();
        let Some(list) = self.lines.get(&(subject, pattern)) else {
            return found;
        };
        if list.len() < actions.len() {
            for (action, effects) in list {
                if actions.binary_search(action).is_ok() {
                    found.merge(*effects);
                }
            }
        } else {
            for action in actions {
                if let Ok(at) = list.binary_search_by_key(action, |&(a, _)| a) {
                    if let Some((_, effects)) = list.get(at) {
                        found.merge(*effects);
                    }
                }
            }
        }
        found
    }

    /// Effects of all lines of `subject` for one of `actions`, under any pattern.
    pub(crate) fn effects_anywhere(&self, subject: Sym, actions: &[Sym]) -> Effects {
        let mut found = Effects::default();
        for &pattern in self.by_subject.get(&subject).map_or(&[][..], Vec::as_slice) {
            found.merge(self.effects(subject, pattern, actions));
        }
        found
    }

    pub(crate) fn deny_lines(&self) -> usize {
        self.deny_lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_prefix_patterns() {
        let mut names = Interner::default();
        let mut rules = Rules::default();
        let (r, a, b) = (
            names.intern("role^r"),
            names.intern("act^a"),
            names.intern("act^b"),
        );
        for (scope, action, effect) in [
            ("lib^*", a, Effect::Allow),
            ("lib^*ignored", b, Effect::Allow),
            ("lib^lib:X:y", a, Effect::Deny),
        ] {
            let s = names.intern(scope);
            rules.add(&names, r, action, s, effect);
        }
        let mut pats = Vec::new();
        let scope = "lib^lib:X:y";
        rules.patterns_matching(scope, names.get(scope), &mut pats);
        assert_eq!(pats.len(), 2);
        let mut total = Effects::default();
        for p in &pats {
            total.merge(rules.effects(r, *p, &[a]));
        }
        assert_eq!(
            total,
            Effects {
                allow: true,
                deny: true
            }
        );
        pats.clear();
        rules.patterns_matching("lib^lib:X:z", None, &mut pats);
        assert_eq!(pats.len(), 1);
        assert!(rules.effects(r, pats[0], &[b]).allow);
        assert_eq!(rules.deny_lines(), 1);
        assert!(rules.effects_anywhere(r, &[a]).deny);
    }
}
