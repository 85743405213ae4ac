//! The store type both backends share: a pool, this process's write turn, the batchers of the
//! statements on every request's path (its reads, opaque access tokens, code redemptions; each
//! with a connection of its own, `kept.rs`), and the hub of change notices. What it does on each backend is in `backend.rs` and the files it
//! names; how it writes is in `write.rs`.

use std::sync::Arc;

use latchkey_core::secret::TokenHash;
use latchkey_core::store::{AccessTokenRow, Family, NewRefresh};

use crate::batch::Batcher;
use crate::lookup::Reads;
use crate::notices::Hub;
use crate::write::WriteTurn;

/// Latchkey's storage on one sqlx backend; see [`SqliteStore`] and [`PgStore`].
pub struct SqlStore<DB: sqlx::Database> {
    pub(crate) pool: sqlx::Pool<DB>,
    pub(crate) writes: WriteTurn,
    pub(crate) access_rows: Arc<Batcher<AccessTokenRow>>,
    /// Answers whether each redemption took its code.
    pub(crate) redemptions: Arc<Batcher<Redemption, bool>>,
    /// The reads on every request's path, in batches (`lookup.rs`).
    pub(crate) reads: Arc<Reads<DB::Row>>,
    /// Change notices, heard by this process's subscribers.
    pub(crate) hub: Arc<Hub>,
}

/// A family about to be started: the family, its first refresh token and (opaque only) its access
/// token.
#[derive(Clone)]
pub(crate) struct NewFamily {
    pub(crate) family: Family,
    pub(crate) first: NewRefresh,
    pub(crate) access: Option<AccessTokenRow>,
}

/// A code exchange's write: take the code at `now`, and only if that wins start `family`.
#[derive(Clone)]
pub(crate) struct Redemption {
    pub(crate) code: TokenHash,
    pub(crate) now: i64,
    pub(crate) family: NewFamily,
}

/// The embedded store: one SQLite file in WAL mode.
pub type SqliteStore = SqlStore<sqlx::Sqlite>;

/// The scale-out store: PostgreSQL, shared by any number of nodes.
pub type PgStore = SqlStore<sqlx::Postgres>;

// Not derived: a derive would ask the driver type `DB` to be `Clone` too.
impl<DB: sqlx::Database> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        SqlStore {
            pool: self.pool.clone(),
            writes: self.writes.clone(),
            access_rows: self.access_rows.clone(),
            redemptions: self.redemptions.clone(),
            reads: self.reads.clone(),
            hub: self.hub.clone(),
        }
    }
}

impl<DB: sqlx::Database> SqlStore<DB> {
    pub fn pool(&self) -> &sqlx::Pool<DB> {
        &self.pool
    }
}
