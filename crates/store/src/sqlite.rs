//! The store on SQLite: `backend.rs` and the files it names, compiled with [`Db`] = sqlx's SQLite
//! driver.

/// The sqlx driver the per-backend code is compiled for.
pub(crate) type Db = sqlx::Sqlite;

/// SQLite lets one writer at a time: this process's writes take turns (`write.rs`), and a
/// rotation needs no family-row lock (`tokens.rs`).
pub(crate) const ONE_WRITER: bool = true;

/// Nothing to do after an import: an `AUTOINCREMENT` key never goes below the largest id ever
/// inserted, explicit ones included.
pub(crate) const ADVANCE_USER_IDS: Option<&str> = None;

/// How an import looks up a batch's origins (`import.rs`): a bound `IN (…)` list, which SQLite
/// answers with one primary-key probe per key (a join to `VALUES` made it scan the table per key).
pub(crate) const KEYS_JOINED: bool = false;

/// SQLite serves one node: a change is announced in-process after its commit, and nothing
/// listens for other processes' (the CLI's changes reach the server's caches by their time limits).
pub(crate) const NOTIFY: Option<&str> = None;
pub(crate) const LISTENER: Option<fn(sqlx::Pool<Db>, crate::notices::Sender)> = None;

/// SQLite's kept connections are made as the pool's: it prepares a statement once per connection.
pub(crate) const KEPT_OPTIONS: crate::kept::KeptOptions<Db> = |options| options;

/// A batch of access-token rows is the `VALUES` list both backends share (`tokens.rs`): SQLite
/// prepares a statement in-process, without a round trip.
pub(crate) const ACCESS_ROWS: Option<crate::batch::AccessRows<Db>> = None;

/// A batch of code redemptions is a transaction in two calls, each of several statements
/// (`codes.rs`): SQLite has no `UPDATE` inside a `WITH`, and runs a call's statements in turn.
pub(crate) const REDEEM_ROWS: Option<crate::batch::RedeemRows<Db>> = None;

/// A batch of reads on a request's path (`lookup.rs`): SQLite binds no arrays, so its hashes are
/// one JSON array of hex strings, which the statement unpacks with `json_each` and `unhex`.
pub(crate) const READ_MANY: crate::lookup::ReadMany<Db> = |lookup, hashes| {
    let keys: Vec<String> = hashes
        .iter()
        .map(|h| format!("\"{}\"", hex::encode(h.as_bytes())))
        .collect();
    sqlx::query(lookup.in_json).bind(format!("[{}]", keys.join(",")))
};

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

// The same files as `postgres.rs` includes: see `backend.rs` for why.
#[allow(clippy::duplicate_mod)]
#[path = "backend.rs"]
mod backend;
