//! Change notices: what one node (or a CLI command) changed that other nodes' caches must drop.
//!
//! The store announces a [`Change`] with the write that makes it (on PostgreSQL by `NOTIFY` in the
//! same transaction, so a notice is sent exactly when the change commits; on SQLite, which serves
//! one node, in-process after the commit) and every node hears it, its own included. A node
//! that may have missed notices (its listening connection dropped) hears [`Notice::Missed`] once
//! it listens again, and re-reads everything. Caches keep their time limits as the safety net for
//! what no notice can cover (docs/design/change-notices.md).

use crate::user::UserId;

/// Something changed in the database that a cache may hold.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// A token, a family or a JWT was revoked: the revocation feed moved, and cached
    /// introspection answers may be stale.
    Revocations,
    /// A user was disabled or enabled, changed password or was logged out everywhere.
    User(UserId),
    /// A client's settings or secret changed.
    Client(String),
    /// A signing key was added, promoted, retired, revoked or forgotten.
    Keys,
    /// Authorization rules or the staff set changed.
    Authz,
    /// Many things at once (an import): drop everything.
    Everything,
}

/// What a node hears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    Change(Change),
    /// Notices may have been lost (the listening connection dropped, or this listener fell
    /// behind): re-read everything, as for [`Change::Everything`].
    Missed,
}
