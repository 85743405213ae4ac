//! The reads on every request's path: the row a keyed hash finds (a session, a code, a token),
//! written once as a [`ByHash`] that says how to find one row and how to find many.
//!
//! On PostgreSQL the reads that arrive together go to the database as one statement, a batch at a
//! time, as the batch writers do (`batch.rs`). Why: a read by itself costs PostgreSQL 60-80 µs of
//! CPU, most of it the round trip and the executor's start and end rather than the index probe;
//! four hashes in one `= ANY($1)` cost it 85-130 µs in all (docs/design/storage.md). SQLite reads
//! in this process, without a round trip, and has no arrays to bind: it reads each row alone.

use std::sync::Arc;

use latchkey_core::secret::TokenHash;

use crate::batch::Batcher;

/// One look-up by keyed hash, in its two shapes.
pub(crate) struct ByHash {
    /// Finds the row whose key is `$1`.
    pub(crate) one: &'static str,
    /// Finds the rows whose keys are in the array `$1`, each with its key as `by_hash`.
    pub(crate) many: &'static str,
}

/// A [`ByHash`] from its select list, its `FROM` clause and its key column, so that the two shapes
/// cannot differ in anything else.
macro_rules! by_hash {
    (select $columns:expr, from $from:expr, key $key:literal) => {
        $crate::lookup::ByHash {
            one: concat!("SELECT ", $columns, " FROM ", $from, " WHERE ", $key, " = $1"),
            many: concat!(
                "SELECT ",
                $key,
                " AS by_hash, ",
                $columns,
                " FROM ",
                $from,
                " WHERE ",
                $key,
                " = ANY($1)"
            ),
        }
    };
}
pub(crate) use by_hash;

/// One read waiting in a batch: what it looks up, and by which hash.
pub(crate) type Lookup = (&'static ByHash, TokenHash);

/// The batcher of a backend's reads: each answers with the row its hash found, if any.
pub(crate) type Reads<Row> = Batcher<Lookup, Option<Arc<Row>>>;

/// The statement that runs [`ByHash::many`] with a batch's hashes bound, on a backend that can bind
/// an array.
pub(crate) type ReadMany<Db> =
    for<'a> fn(
        &'static str,
        &'a [TokenHash],
    ) -> sqlx::query::Query<'a, Db, <Db as sqlx::Database>::Arguments<'a>>;
