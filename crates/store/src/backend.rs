//! The store on one backend. `sqlite.rs` and `postgres.rs` each compile this file, and the files
//! it names, with their own [`Db`]: SQLite and PostgreSQL share one body of SQL, since every
//! statement uses only what both support (`$n` parameters, `RETURNING`, `ON CONFLICT`, partial
//! indexes, `DELETE … WHERE key IN (SELECT … LIMIT n)`), and any difference between the two shows
//! in the conformance suite, which runs on both.
//!
//! Why compiled twice rather than generic over `sqlx::Database`: sqlx's generic bounds (an
//! executor for every connection lifetime, `Encode`/`Decode`/`Type` for every column type) are
//! not implied by a trait, so every generic impl would restate a dozen lines of them; and why not
//! a `macro_rules!` body, as this was before: rustfmt cannot format one. Here each file is plain
//! Rust on concrete types.
//!
//! One file per aggregate, each implementing its trait of `latchkey_core::store` and writing only
//! through [`SqlStore::write`](crate::store::SqlStore::write). A new aggregate is a file written
//! like `users.rs` and one `mod` line below.

mod audit;
mod authz;
mod clients;
mod codes;
mod import;
mod keys;
mod revocations;
mod sessions;
mod tokens;
mod users;

use std::sync::Arc;

use async_trait::async_trait;
use latchkey_core::notice::{Change, Notice};
use latchkey_core::secret::TokenHash;
use latchkey_core::store::{Conflict, Store, StoreError};
use latchkey_core::user::email_key;

use super::{
    Db, ACCESS_ROWS, ADVANCE_USER_IDS, KEPT_OPTIONS, KEYS_JOINED, LISTENER, MIGRATOR, NOTIFY,
    ONE_WRITER, READ_MANY, REDEEM_ROWS,
};
use crate::batch::{Batcher, RunBatch};
use crate::errors::backend;
use crate::kept::Kept;
use crate::lookup::{ByHash, Lookup};
use crate::notices::{self, Hub};
use crate::store::SqlStore;
use crate::write::{Ending, WriteTurn, Written};
use crate::OpenError;

/// A connection of this backend, as a write's transaction lends it (`&mut **tx`).
type Conn = <Db as sqlx::Database>::Connection;
/// A row of this backend.
type DbRow = <Db as sqlx::Database>::Row;

impl SqlStore<Db> {
    pub fn new(pool: sqlx::Pool<Db>) -> Self {
        let writes = WriteTurn::new(ONE_WRITER);
        // Each batcher runs one batch at a time, on a connection of its own (`kept.rs` says why).
        // On SQLite the redemption writer's page cache, which SQLite drops whenever another
        // connection commits, then stays valid.
        let own = || Arc::new(Kept::new(&pool, KEPT_OPTIONS));
        // The group-commit writer is its own task already, and one multi-row INSERT is atomic by
        // itself: it takes the write turn but no transaction, which would cost two statements
        // per batch on the hottest write.
        let (p, w, conn) = (pool.clone(), writes.clone(), own());
        let write: RunBatch<_> = Arc::new(move |rows| {
            let (pool, writes, conn) = (p.clone(), w.clone(), conn.clone());
            Box::pin(async move {
                let _turn = writes.take().await;
                tokens::insert_access_batch(&pool, &conn, Arc::new(rows)).await
            })
        });
        let (w, conn) = (writes.clone(), own());
        let redeem: RunBatch<_, _> = Arc::new(move |batch| {
            let (conn, writes) = (conn.clone(), w.clone());
            Box::pin(async move { codes::redeem_batch(&conn, &writes, batch).await })
        });
        let conn = own();
        let read: RunBatch<_, _> = Arc::new(move |batch| {
            let conn = conn.clone();
            Box::pin(async move { read_batch(&conn, batch).await })
        });
        SqlStore {
            pool,
            writes,
            access_rows: Arc::new(Batcher::new(write)),
            redemptions: Arc::new(Batcher::new(redeem)),
            reads: Arc::new(Batcher::new(read)),
            hub: Hub::new(),
        }
    }

    /// [`SqlStore::write`] for a write that changes what caches may hold: `work` says what it
    /// changed (nothing, for a write that found nothing to change), and every node hears of it
    /// once the transaction commits (`notices.rs`).
    pub(crate) async fn announcing<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(
                &'t mut sqlx::Transaction<'static, Db>,
            ) -> Written<'t, (T, Option<Change>)>
            + Send
            + 'static,
    {
        self.announcing_then(Ending::Commit, work).await
    }

    /// [`SqlStore::announcing`], ending as `ending` says: a rolled-back write announces nothing.
    pub(crate) async fn announcing_then<T, F>(
        &self,
        ending: Ending,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(
                &'t mut sqlx::Transaction<'static, Db>,
            ) -> Written<'t, (T, Option<Change>)>
            + Send
            + 'static,
    {
        let (done, change) = self
            .write_then(ending, move |tx| {
                Box::pin(async move {
                    let (done, change) = work(&mut *tx).await?;
                    if let (Some(notify), Some(change)) = (NOTIFY, &change) {
                        sqlx::query(notify)
                            .bind(notices::encode(change))
                            .execute(&mut **tx)
                            .await
                            .map_err(backend)?;
                    }
                    Ok((done, change))
                })
            })
            .await?;
        if let (None, Ending::Commit, Some(change)) = (NOTIFY, ending, change) {
            self.hub.send(Notice::Change(change));
        }
        Ok(done)
    }

    /// The row, if any, that `lookup` finds by `hash`: the reads on every request's path (a
    /// session, a code, a token), in batches (`lookup.rs`) on a kept connection (`kept.rs`).
    pub(crate) async fn row_by_hash(
        &self,
        lookup: &'static ByHash,
        hash: &TokenHash,
    ) -> Result<Option<Arc<DbRow>>, StoreError> {
        self.reads.submit((lookup, *hash)).await
    }

    /// Applies the migrations this database lacks; returns them, oldest first.
    pub async fn migrate(&self) -> Result<Vec<String>, OpenError> {
        use sqlx::migrate::{Migrate as _, MigrateError};
        let mut conn = self.pool.acquire().await.map_err(MigrateError::from)?;
        // Replicas started at once on a new database: the migrator's lock (an advisory lock on
        // PostgreSQL, nothing on SQLite) must be held from before the bookkeeping table is made,
        // which sqlx's own `run` creates before it locks. `run_direct` takes it again; PostgreSQL
        // counts a session's advisory locks, so it is held until the `unlock` below.
        conn.lock().await?;
        let applied = async {
            conn.ensure_migrations_table().await?;
            let before: Vec<i64> = conn
                .list_applied_migrations()
                .await?
                .iter()
                .map(|m| m.version)
                .collect();
            MIGRATOR.run_direct(&mut *conn).await?;
            Ok::<_, MigrateError>(before)
        }
        .await;
        let before = match applied {
            Ok(before) => {
                conn.unlock().await?;
                before
            }
            Err(e) => {
                // Closing the session is what frees a lock an error left held.
                let _ = conn.close().await;
                return Err(e.into());
            }
        };
        self.fill_email_keys().await?;
        Ok(MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration() && !before.contains(&m.version))
            .map(|m| format!("{:04} {}", m.version, m.description))
            .collect())
    }

    /// Gives rows from before migration 0005 their email key, which only Rust computes.
    /// Two old rows whose addresses the key makes one (`JOSÉ@x` and `josé@x`, which
    /// SQLite's ASCII-only `lower()` let in) cannot both have it: the later one keeps no
    /// key, so it signs in by username only, and every start says so until an operator
    /// changes one of the addresses.
    async fn fill_email_keys(&self) -> Result<(), OpenError> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, email FROM users WHERE email_key IS NULL ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| OpenError::EmailKeys(backend(e)))?;
        for (id, email) in rows {
            let done = self
                .write(move |tx| {
                    Box::pin(async move {
                        sqlx::query(
                            "UPDATE users SET email_key = $2 WHERE id = $1 AND email_key IS NULL",
                        )
                        .bind(id)
                        .bind(email_key(&email))
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)
                    })
                })
                .await;
            match done {
                Ok(_) => {}
                Err(StoreError::Conflict(Conflict::Email)) => {
                    tracing::warn!(
                        user_id = id,
                        "another user has the same email but for case or composition: this one \
                         can sign in by username only until one of the two addresses is changed"
                    );
                }
                Err(e) => return Err(OpenError::EmailKeys(e)),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Store for SqlStore<Db> {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    fn notices(&self) -> tokio::sync::broadcast::Receiver<Notice> {
        self.hub.subscribe(|sender| {
            if let Some(listen) = LISTENER {
                listen(self.pool.clone(), sender);
            }
        })
    }
}

/// Reads one batch of the read batcher: one statement per kind of look-up in it (almost always
/// one), and each read's row, or its statement's error, in the batch's order. Two reads of one
/// hash share the row.
async fn read_batch(
    kept: &Kept<Db>,
    batch: Vec<Lookup>,
) -> Vec<Result<Option<Arc<DbRow>>, StoreError>> {
    let mut answers: Vec<Option<Result<Option<Arc<DbRow>>, StoreError>>> =
        batch.iter().map(|_| None).collect();
    while let Some(first) = answers.iter().position(Option::is_none) {
        let lookup = batch[first].0;
        let readers: Vec<usize> = (first..batch.len())
            .filter(|&i| std::ptr::eq(batch[i].0, lookup))
            .collect();
        let hashes: Arc<Vec<TokenHash>> = Arc::new(readers.iter().map(|&i| batch[i].1).collect());
        let rows = kept
            .run(|conn| {
                let hashes = hashes.clone();
                Box::pin(async move { READ_MANY(lookup, &hashes).fetch_all(conn).await })
            })
            .await
            .and_then(|rows| by_key(rows, &hashes));
        for (&i, row) in readers.iter().zip(answered(rows, readers.len())) {
            answers[i] = Some(row);
        }
    }
    answers.into_iter().flatten().collect()
}

/// Each hash's row among `rows`, by the `by_hash` column that each batch statement of a [`ByHash`]
/// selects.
fn by_key(rows: Vec<DbRow>, hashes: &[TokenHash]) -> Result<Vec<Option<Arc<DbRow>>>, StoreError> {
    use sqlx::Row as _;
    let mut found = std::collections::HashMap::with_capacity(rows.len());
    for row in rows {
        let key: Vec<u8> = row.try_get("by_hash").map_err(backend)?;
        found.insert(key, Arc::new(row));
    }
    Ok(hashes
        .iter()
        .map(|h| found.get(h.as_bytes()).cloned())
        .collect())
}

/// One answer per reader: its row, or the statement's error for each.
fn answered(
    rows: Result<Vec<Option<Arc<DbRow>>>, StoreError>,
    readers: usize,
) -> Vec<Result<Option<Arc<DbRow>>, StoreError>> {
    match rows {
        Ok(rows) => rows.into_iter().map(Ok).collect(),
        Err(e) => crate::batch::all_unavailable(readers, &e).unwrap_or_else(|| {
            let why = e.to_string();
            (0..readers)
                .map(|_| Err(StoreError::Backend(why.clone().into())))
                .collect()
        }),
    }
}
