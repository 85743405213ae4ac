//! The evaluator: answers `(subject, action, scope)` as openedx-authz's matcher
//!
//! ```text
//! is_staff_or_superuser(r.sub, r.act, r.scope)
//!   || (g(r.sub, p.sub, r.scope) || g(r.sub, p.sub, "*"))
//!      && keyMatch(r.scope, p.scope) && (r.act == p.act || g2(p.act, r.act))
//! ```
//!
//! with deny-override effect, but from indexes instead of a scan of every line:
//! the roles the subject holds in the scope and globally (bounded walks of the
//! `g` graph), the line actions that cover the requested action (`g2` closure,
//! precomputed), and the scope patterns the scope matches (exact map + prefix
//! trie). See `docs/design/authz-engine.md`; for the staff bypass and its one
//! deliberate difference from upstream, `docs/design/authz-staff-deny.md`.

use std::sync::Arc;

use crate::actions::ActionIndex;
use crate::error::AuthzError;
use crate::intern::{Interner, Sym};
use crate::model::Model;
use crate::nodeset::NodeSet;
use crate::policy::Policy;
use crate::request::Request;
use crate::roles::{Domain, RoleGraph, Walk};
use crate::rules::{Effects, Rules};
use crate::staff::StaffDirectory;
use crate::trie::PatId;

/// How the engine departs from released openedx-authz 0.23.0, if at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// `keyMatch` domain matching on `g` (openedx-authz HEAD): an assignment
    /// in `course-v1^course-v1:OpenedX+*` holds in every matching course.
    /// Off by default, as released.
    pub domain_matching: bool,
    /// Reproduce upstream bit for bit: a staff or superuser subject in a
    /// library or course scope is denied everything there as soon as the
    /// policy has one deny line anywhere. Off by default: staff are denied only
    /// by deny lines that apply to them.
    pub staff_deny_parity: bool,
}

/// The answer to a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Allowed, and on what basis.
    Allow(Grant),
    /// Denied, and why.
    Deny(Refusal),
}

impl Decision {
    /// `true` for [`Decision::Allow`].
    pub fn is_allowed(self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

/// Why a request was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grant {
    /// An allow line of a role the subject holds covers it.
    Role,
    /// The subject is staff or superuser and the scope is a library or course.
    StaffBypass,
}

/// Why a request was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// No line allows it.
    NoGrant,
    /// A deny line of a role the subject holds covers it.
    DenyRule,
    /// `staff_deny_parity`: staff in a library or course scope, and the policy
    /// has a deny line somewhere.
    StaffDenyParity,
}

/// What the role lines alone say about a request (everything except the
/// staff bypass). This is what [`crate::CachedEngine`] caches.
pub(crate) type RoleOutcome = Effects;

/// The Open edX AuthZ policy engine. Cheap to query from many threads
/// (`&self`); mutations take `&mut self` and bump [`Engine::version`].
pub struct Engine {
    names: Interner,
    roles: RoleGraph,
    actions: ActionIndex,
    rules: Rules,
    settings: Settings,
    staff: Arc<dyn StaffDirectory>,
    star: Sym,
    version: u64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("keys", &self.names.len())
            .field("assignments", &self.roles.len())
            .field("settings", &self.settings)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Build the indexes for `policy` under the (checked) Open edX AuthZ model.
    pub fn new(
        _model: &Model,
        policy: Policy,
        settings: Settings,
        staff: impl StaffDirectory + 'static,
    ) -> Engine {
        let mut names = Interner::default();
        let star = names.intern("*");
        let mut rules = Rules::default();
        let mut line_actions = Vec::with_capacity(policy.permissions.len());
        for p in &policy.permissions {
            let (sub, act, scope) = (
                names.intern(&p.subject),
                names.intern(&p.action),
                names.intern(&p.scope),
            );
            rules.add(&names, sub, act, scope, p.effect);
            line_actions.push(act);
        }
        let implications: Vec<(Sym, Sym)> = policy
            .implications
            .iter()
            .map(|i| (names.intern(&i.granted), names.intern(&i.implied)))
            .collect();
        let actions = ActionIndex::build(&implications, &line_actions);
        let mut engine = Engine {
            names,
            roles: RoleGraph::default(),
            actions,
            rules,
            settings,
            staff: Arc::new(staff),
            star,
            version: 0,
        };
        for a in &policy.assignments {
            engine.add_grouping(&a.subject, &a.role, &a.scope);
        }
        engine.version = 0;
        engine
    }

    /// Decide a request, without any cache.
    pub fn check(&self, request: &Request<'_>) -> Result<Decision, AuthzError> {
        let outcome = self.role_outcome(request.subject(), request.action(), request.scope());
        self.decide(request, outcome)
    }

    /// The scopes in which `subject` holds `action` through its own role
    /// assignments (staff bypass not included), in assignment-scope order:
    /// each assignment scope where the role lines allow `action` and no deny
    /// line of its roles covers it there. `*` is listed when a global
    /// assignment grants `action` under some scope pattern; deny lines may still
    /// carve single scopes out of it, so ask [`Engine::check`] for one scope.
    pub fn scopes_for(&self, subject: &str, action: &str) -> Vec<String> {
        let Some(sub) = self.names.get(subject) else {
            return Vec::new();
        };
        let mut scopes: Vec<String> = Vec::new();
        let mut last = None;
        for &(domain, _role) in self.roles.links_of(sub) {
            if last == Some(domain) {
                continue;
            }
            last = Some(domain);
            let scope = self.names.name(domain);
            let granted = if domain == self.star {
                self.global_grant(sub, action)
            } else {
                let o = self.role_outcome(subject, action, scope);
                o.allow && !o.deny
            };
            if granted && !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        scopes
    }

    /// Add the assignment `g, subject, role, scope`; `false` if present.
    pub fn add_grouping(&mut self, subject: &str, role: &str, scope: &str) -> bool {
        let (s, r, d) = (
            self.names.intern(subject),
            self.names.intern(role),
            self.names.intern(scope),
        );
        let added = self.roles.add(s, r, d, scope.contains('*'));
        self.version += u64::from(added);
        added
    }

    /// Remove the assignment `g, subject, role, scope`; `false` if absent.
    pub fn remove_grouping(&mut self, subject: &str, role: &str, scope: &str) -> bool {
        let (Some(s), Some(r), Some(d)) = (
            self.names.get(subject),
            self.names.get(role),
            self.names.get(scope),
        ) else {
            return false;
        };
        let removed = self.roles.remove(s, r, d);
        self.version += u64::from(removed);
        removed
    }

    /// Bumped by every mutation that changed something; caches compare it.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Number of `g` assignments held.
    pub fn assignment_count(&self) -> usize {
        self.roles.len()
    }

    /// The settings the engine was built with.
    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// What the role lines say, staff aside.
    pub(crate) fn role_outcome(&self, subject: &str, action: &str, scope: &str) -> RoleOutcome {
        with_scratch(|scratch| self.role_outcome_in(subject, action, scope, scratch))
    }

    fn role_outcome_in(
        &self,
        subject: &str,
        action: &str,
        scope: &str,
        scratch: &mut Scratch,
    ) -> RoleOutcome {
        let mut outcome = Effects::default();
        let Some(sub) = self.names.get(subject) else {
            return outcome;
        };
        let Some(act) = self.names.get(action) else {
            return outcome;
        };
        let covering = self.actions.covering(act);
        if covering.is_empty() {
            return outcome;
        }
        let scope_sym = self.names.get(scope);
        let Scratch {
            patterns,
            roles,
            walk,
        } = scratch;
        self.rules.patterns_matching(scope, scope_sym, patterns);
        if patterns.is_empty() {
            return outcome;
        }
        // Every `p.sub` for which `g(sub, p.sub, scope) || g(sub, p.sub, "*")`.
        let matching = self.settings.domain_matching;
        let here = Domain {
            sym: scope_sym,
            text: scope,
            matching,
        };
        self.roles.reach(sub, here, &self.names, walk, roles);
        self.roles
            .reach(sub, self.everywhere(), &self.names, walk, roles);
        for &role in roles.as_slice() {
            for &pattern in patterns.iter() {
                outcome.merge(self.rules.effects(role, pattern, covering));
                if outcome.deny {
                    return outcome;
                }
            }
        }
        outcome
    }

    /// The global domain `*` (under domain matching: every domain `keyMatch`
    /// finds for `*`).
    fn everywhere(&self) -> Domain<'static> {
        Domain {
            sym: Some(self.star),
            text: "*",
            matching: self.settings.domain_matching,
        }
    }

    fn global_grant(&self, sub: Sym, action: &str) -> bool {
        let Some(act) = self.names.get(action) else {
            return false;
        };
        let covering = self.actions.covering(act);
        let mut roles = NodeSet::default();
        self.roles.reach(
            sub,
            self.everywhere(),
            &self.names,
            &mut Walk::default(),
            &mut roles,
        );
        roles
            .as_slice()
            .iter()
            .any(|&role| self.rules.effects_anywhere(role, covering).allow)
    }

    /// Combine the role outcome with the staff bypass.
    pub(crate) fn decide(
        &self,
        request: &Request<'_>,
        role: RoleOutcome,
    ) -> Result<Decision, AuthzError> {
        let by_roles = if role.deny {
            Decision::Deny(Refusal::DenyRule)
        } else if role.allow {
            Decision::Allow(Grant::Role)
        } else {
            Decision::Deny(Refusal::NoGrant)
        };
        if !request.in_staff_scope() {
            return Ok(by_roles);
        }
        if self.settings.staff_deny_parity {
            let staff = self.staff.is_staff_or_superuser(request.user_key())?;
            return Ok(if staff {
                self.upstream_staff_decision()
            } else {
                by_roles
            });
        }
        // Corrected: deny lines that cover the subject still deny; otherwise
        // staff are allowed. The directory is asked only when it matters.
        if role.deny || role.allow {
            return Ok(by_roles);
        }
        if self.staff.is_staff_or_superuser(request.user_key())? {
            Ok(Decision::Allow(Grant::StaffBypass))
        } else {
            Ok(by_roles)
        }
    }

    /// Upstream's decision for staff: the matcher is true for every line, so
    /// the effect is deny iff any line denies. (With no line at all pycasbin
    /// evaluates the matcher once and allows; with only allow lines it allows.)
    fn upstream_staff_decision(&self) -> Decision {
        if self.rules.deny_lines() > 0 {
            Decision::Deny(Refusal::StaffDenyParity)
        } else {
            Decision::Allow(Grant::StaffBypass)
        }
    }
}

/// Per-thread buffers for one check, so the hot path does not allocate.
#[derive(Debug, Default)]
struct Scratch {
    patterns: Vec<PatId>,
    roles: NodeSet,
    walk: Walk,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Run `f` with this thread's (emptied) scratch buffers, or with fresh ones
/// if they are in use or the thread is shutting down.
fn with_scratch<R>(f: impl Fn(&mut Scratch) -> R) -> R {
    SCRATCH
        .try_with(|cell| {
            cell.try_borrow_mut().ok().map(|mut scratch| {
                scratch.patterns.clear();
                scratch.roles.clear();
                f(&mut scratch)
            })
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| f(&mut Scratch::default()))
}
