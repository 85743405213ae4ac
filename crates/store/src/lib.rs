//! Latchkey's storage: `latchkey-core`'s [`Store`](latchkey_core::store::Store) traits implemented
//! on sqlx for SQLite (the embedded default: one file, WAL) and PostgreSQL (several stateless
//! nodes on one database).
//!
//! How it is laid out (`docs/design/storage.md` says why):
//!
//! - `open.rs`: a database URL to a connected, migrated [`Backend`];
//! - `store.rs`: [`SqlStore`], the one store type, as [`SqliteStore`] and [`PgStore`];
//! - `kept.rs`: connections kept beside the pool for the statements on every request's path,
//!   without the pool's round trips to check them;
//! - `write.rs`: `SqlStore::write`, the one way to write: a transaction that takes SQLite's write
//!   turn, runs detached from the request and commits;
//! - `errors.rs`: sqlx errors as `StoreError`s, unique violations as typed conflicts found by
//!   constraint name;
//! - `sqlite.rs`, `postgres.rs`: each compiles `backend.rs` and the files it names for its driver:
//!   one file per aggregate (`users.rs`, `clients.rs`, `keys.rs`, `tokens.rs`, `sessions.rs`,
//!   `authz.rs`, `audit.rs`), one body of SQL for both backends;
//! - `notices.rs`, `listen.rs`: change notices between nodes (PostgreSQL `LISTEN/NOTIFY`, or
//!   in-process on SQLite), as `latchkey_core::notice` defines them;
//! - `attempts.rs`: PostgreSQL only, the password attempt counters every node shares;
//! - `batch.rs`: the group-commit writer of opaque access tokens; `codec.rs`: how values are
//!   spelled in columns.
//!
//! The migrations are one folder per backend in `migrations/`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), latchkey_store::OpenError> {
//! use latchkey_store::{open, Backend};
//! match open("sqlite://latchkey.db").await? {
//!     Backend::Sqlite(store) => { /* hand `store` to the server */ }
//!     Backend::Postgres(store) => { /* the same, on PostgreSQL */ }
//! }
//! # Ok(()) }
//! ```

mod attempts;
mod batch;
mod codec;
mod errors;
mod kept;
mod listen;
mod lookup;
mod notices;
mod open;
mod postgres;
mod sqlite;
mod store;
mod write;

pub use open::{connect, open, redact, Backend, OpenError};
pub use store::{PgStore, SqlStore, SqliteStore};
