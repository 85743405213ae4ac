//! `latchkey-authz` answers Open edX AuthZ checks — `(subject, action, scope)`
//! — exactly as released openedx-authz 0.23.0 does (pycasbin over its
//! `model.conf` and `authz.policy`), from indexes, in microseconds. Both files
//! ship with the crate: [`OPENEDX_MODEL`] and [`OPENEDX_POLICY`].
//!
//! It is pure: no I/O beyond reading the files you pass in. Whether a user is
//! staff or superuser (openedx-authz's `is_staff_or_superuser`) comes from a
//! [`StaffDirectory`] you supply. A model other than the Open edX AuthZ model
//! is refused at load ([`ModelError::Unsupported`]); a request openedx-authz
//! rejects is refused with a [`RequestError`], never answered with a guess.
//!
//! One deliberate difference, switchable back with
//! [`Settings::staff_deny_parity`]: upstream denies staff everything in every
//! library and course as soon as any deny line exists; here staff are denied
//! only by deny lines that apply to them (`docs/design/authz-staff-deny.md`).
//!
//! ```
//! use latchkey_authz::{
//!     Decision, Engine, Grant, Model, Policy, Request, Settings, StaffSet, OPENEDX_MODEL,
//!     OPENEDX_POLICY,
//! };
//!
//! let model = Model::parse(OPENEDX_MODEL)?;
//! // openedx-authz's roles, and one assignment.
//! let mut policy = Policy::parse_csv(OPENEDX_POLICY)?;
//! policy.extend_csv("g, user^alice, role^library_author, lib^lib:DemoX:CSPROB")?;
//! let engine = Engine::new(&model, policy, Settings::default(), StaffSet::new(["root"]));
//!
//! let view = "act^content_libraries.view_library";
//! let req = Request::new("user^alice", view, "lib^lib:DemoX:CSPROB")?;
//! assert_eq!(engine.check(&req)?, Decision::Allow(Grant::Role));
//! let elsewhere = Request::new("user^alice", view, "lib^lib:DemoX:OTHER")?;
//! assert!(!engine.check(&elsewhere)?.is_allowed());
//! let staff = Request::new("user^root", view, "lib^lib:DemoX:OTHER")?;
//! assert_eq!(engine.check(&staff)?, Decision::Allow(Grant::StaffBypass));
//! assert!(Request::new("user^alice", view, "*").is_err());
//! assert_eq!(engine.scopes_for("user^alice", view), ["lib^lib:DemoX:CSPROB"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod actions;
mod cache;
mod engine;
mod error;
mod intern;
mod keymatch;
mod model;
mod nodeset;
mod openedx;
mod policy;
mod request;
mod roles;
mod rules;
mod staff;
mod trie;

pub use cache::CachedEngine;
pub use engine::{Decision, Engine, Grant, Refusal, Settings};
pub use error::{AuthzError, DirectoryError, LineError, ModelError, PolicyError, RequestError};
pub use keymatch::{key_match, ScopePattern};
pub use model::Model;
pub use openedx::{OPENEDX_MODEL, OPENEDX_POLICY};
pub use policy::{Assignment, Effect, Implication, Permission, Policy, RuleRow};
pub use request::Request;
pub use staff::{NoStaff, StaffDirectory, StaffSet};
