//! The reads on every request's path: the row a keyed hash finds (a session, a code, a token),
//! written once as a [`ByHash`], from which each backend gets its statement for a batch of them.
//!
//! The reads that arrive together go to the database as one statement, a batch at a time, as the
//! batch writers do (`batch.rs`); a read on an idle node goes alone, at once. Why: on PostgreSQL a
//! read by itself costs 60-80 µs of database CPU, most of it the round trip and the executor's
//! start and end rather than the index probe, and four hashes in one `= ANY($1)` cost 85-130 µs
//! in all; on SQLite each statement is a hand-off to sqlx's worker thread and back
//! (docs/design/storage.md, reads in batches).

use std::sync::Arc;

use latchkey_core::secret::TokenHash;

use crate::batch::Batcher;

/// One look-up by keyed hash, as a batch of them reads on each backend.
pub(crate) struct ByHash {
    /// PostgreSQL's batch: the rows whose keys are in the array `$1`, each with its key as
    /// `by_hash`.
    pub(crate) in_array: &'static str,
    /// SQLite's batch, which binds no arrays: the keys are hex strings in the JSON array `$1`.
    pub(crate) in_json: &'static str,
}

/// A [`ByHash`] from its select list, its `FROM` clause and its key column, so that its shapes
/// cannot differ in anything else.
macro_rules! by_hash {
    (select $columns:expr, from $from:expr, key $key:literal) => {
        $crate::lookup::ByHash {
            in_array: $crate::lookup::by_hash!(@keys " = ANY($1)"; $columns, $from, $key),
            in_json: $crate::lookup::by_hash!(
                @keys " IN (SELECT unhex(value) FROM json_each($1))"; $columns, $from, $key
            ),
        }
    };
    (@keys $keys:literal; $columns:expr, $from:expr, $key:literal) => {
        concat!("SELECT ", $key, " AS by_hash, ", $columns, " FROM ", $from, " WHERE ", $key, $keys)
    };
}
pub(crate) use by_hash;

/// One read waiting in a batch: what it looks up, and by which hash.
pub(crate) type Lookup = (&'static ByHash, TokenHash);

/// The batcher of a backend's reads: each answers with the row its hash found, if any.
pub(crate) type Reads<Row> = Batcher<Lookup, Option<Arc<Row>>>;

/// The statement that reads a batch of one [`ByHash`] in this backend's shape, its hashes bound.
pub(crate) type ReadMany<Db> =
    for<'a> fn(
        &'static ByHash,
        &'a [TokenHash],
    ) -> sqlx::query::Query<'a, Db, <Db as sqlx::Database>::Arguments<'a>>;
