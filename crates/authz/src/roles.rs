//! Role assignments (`g`), indexed by subject.
//!
//! `g(sub, role, domain)` holds when `sub == role`, or `role` is reachable from
//! `sub` in at most [`MAX_LINKS`] links of the domain's link graph (pycasbin's
//! `DomainManager`, whose `RoleManager(max_hierarchy_level=10)` counts the
//! start, so 9 links resolve and 10 do not). Which links belong to a domain:
//!
//! * released openedx-authz: the links stored with exactly that domain;
//! * with domain matching (openedx-authz HEAD, `keyMatch` on `g`): also the
//!   links of every stored domain `d` with `keyMatch(domain, d)`, merged into
//!   one graph, so chains may combine across those domains.
//!
//! Each node keeps its outgoing links sorted by domain (binary search for the
//! exact domain) plus, for domain matching, the short list of links whose
//! domain contains `*`.

use crate::intern::{Interner, Sym};
use crate::keymatch::key_match;
use crate::nodeset::NodeSet;

/// Links followed at most: pycasbin `max_hierarchy_level` (10) minus the start.
pub(crate) const MAX_LINKS: usize = 9;

#[derive(Debug, Clone, Default)]
struct Links {
    /// `(domain, target)`, sorted.
    by_domain: Vec<(Sym, Sym)>,
    /// The subset of `by_domain` whose domain contains `*`.
    globbed: Vec<(Sym, Sym)>,
}

/// The domain a walk follows links in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Domain<'a> {
    /// The domain's `Sym`, if any stored key equals it.
    pub(crate) sym: Option<Sym>,
    /// Its text, for `keyMatch` against globbed domains.
    pub(crate) text: &'a str,
    /// Follow links of domains that `keyMatch` this one too.
    pub(crate) matching: bool,
}

/// Reusable buffers for [`RoleGraph::reach`].
#[derive(Debug, Default)]
pub(crate) struct Walk {
    seen: NodeSet,
    frontier: Vec<Sym>,
    next: Vec<Sym>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RoleGraph {
    links: Vec<Links>,
    count: usize,
}

impl RoleGraph {
    /// Add the link `subject -> role` in `domain`; `false` if it was there.
    pub(crate) fn add(
        &mut self,
        subject: Sym,
        role: Sym,
        domain: Sym,
        domain_is_glob: bool,
    ) -> bool {
        if self.links.len() <= subject.index() {
            self.links.resize_with(subject.index() + 1, Links::default);
        }
        let Some(links) = self.links.get_mut(subject.index()) else {
            return false;
        };
        let Err(at) = links.by_domain.binary_search(&(domain, role)) else {
            return false;
        };
        links.by_domain.insert(at, (domain, role));
        if domain_is_glob {
            links.globbed.push((domain, role));
        }
        self.count += 1;
        true
    }

    /// Remove the link `subject -> role` in `domain`; `false` if it was absent.
    pub(crate) fn remove(&mut self, subject: Sym, role: Sym, domain: Sym) -> bool {
        let Some(links) = self.links.get_mut(subject.index()) else {
            return false;
        };
        let Ok(at) = links.by_domain.binary_search(&(domain, role)) else {
            return false;
        };
        links.by_domain.remove(at);
        links.globbed.retain(|&link| link != (domain, role));
        self.count -= 1;
        true
    }

    /// Number of stored links.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// `(domain, role)` of every link out of `subject`, sorted by domain.
    pub(crate) fn links_of(&self, subject: Sym) -> &[(Sym, Sym)] {
        self.links
            .get(subject.index())
            .map_or(&[], |l| l.by_domain.as_slice())
    }

    /// Add to `out` every node `g(start, node, domain)` holds for: `start`
    /// itself and all nodes within [`MAX_LINKS`] links in the domain.
    pub(crate) fn reach(
        &self,
        start: Sym,
        domain: Domain<'_>,
        names: &Interner,
        walk: &mut Walk,
        out: &mut NodeSet,
    ) {
        let Walk {
            seen,
            frontier,
            next,
        } = walk;
        seen.clear();
        frontier.clear();
        next.clear();
        seen.insert(start);
        out.insert(start);
        frontier.push(start);
        for _ in 0..MAX_LINKS {
            for &node in frontier.iter() {
                self.for_each_link(node, domain, names, |target| {
                    if seen.insert(target) {
                        next.push(target);
                    }
                });
            }
            if next.is_empty() {
                break;
            }
            for &node in next.iter() {
                out.insert(node);
            }
            std::mem::swap(frontier, next);
            next.clear();
        }
    }

    fn for_each_link(
        &self,
        node: Sym,
        domain: Domain<'_>,
        names: &Interner,
        mut visit: impl FnMut(Sym),
    ) {
        let Some(links) = self.links.get(node.index()) else {
            return;
        };
        if let Some(exact) = domain.sym {
            let from = links.by_domain.partition_point(|&(d, _)| d < exact);
            let same = links.by_domain.get(from..).unwrap_or_default();
            for &(_, target) in same.iter().take_while(|&&(d, _)| d == exact) {
                visit(target);
            }
        }
        if domain.matching {
            for &(d, target) in &links.globbed {
                if Some(d) != domain.sym && key_match(domain.text, names.name(d)) {
                    visit(target);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(names: &mut Interner, links: &[(&str, &str, &str)]) -> RoleGraph {
        let mut g = RoleGraph::default();
        for (s, r, d) in links {
            let (s, r, dd) = (names.intern(s), names.intern(r), names.intern(d));
            g.add(s, r, dd, d.contains('*'));
        }
        g
    }

    fn reach(
        g: &RoleGraph,
        names: &Interner,
        start: &str,
        domain: &str,
        matching: bool,
    ) -> Vec<String> {
        let mut out = NodeSet::default();
        let dom = Domain {
            sym: names.get(domain),
            text: domain,
            matching,
        };
        if let Some(s) = names.get(start) {
            g.reach(s, dom, names, &mut Walk::default(), &mut out);
        }
        let mut v: Vec<String> = out
            .as_slice()
            .iter()
            .map(|&s| names.name(s).to_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn chains_stay_in_their_domain_and_stop_after_nine_links() {
        let mut names = Interner::default();
        let mut links: Vec<(String, String, String)> = (0..11)
            .map(|i| (format!("n{i}"), format!("n{}", i + 1), "lib^x".to_owned()))
            .collect();
        links.push(("n0".into(), "other".into(), "lib^y".into()));
        let refs: Vec<(&str, &str, &str)> = links
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        let g = graph(&mut names, &refs);
        let r = reach(&g, &names, "n0", "lib^x", false);
        assert!(r.contains(&"n9".to_owned()));
        assert!(!r.contains(&"n10".to_owned()));
        assert!(!r.contains(&"other".to_owned()));
        assert_eq!(g.len(), 12);
    }

    #[test]
    fn domain_matching_merges_glob_domains() {
        let mut names = Interner::default();
        let g = graph(
            &mut names,
            &[
                ("u", "r1", "course-v1^course-v1:O+*"),
                ("r1", "r2", "course-v1^course-v1:O+C+R"),
                ("u", "r3", "*"),
            ],
        );
        let released = reach(&g, &names, "u", "course-v1^course-v1:O+C+R", false);
        assert_eq!(released, vec!["u"]);
        let head = reach(&g, &names, "u", "course-v1^course-v1:O+C+R", true);
        assert_eq!(head, vec!["r1", "r2", "r3", "u"]);
    }

    #[test]
    fn add_remove_are_idempotent() {
        let mut names = Interner::default();
        let mut g = graph(&mut names, &[("u", "r", "d")]);
        let (u, r, d) = (names.intern("u"), names.intern("r"), names.intern("d"));
        assert!(!g.add(u, r, d, false));
        assert!(g.remove(u, r, d));
        assert!(!g.remove(u, r, d));
        assert_eq!(g.len(), 0);
    }
}
