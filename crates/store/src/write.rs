//! The one way the store writes: [`SqlStore::write`]. Every write transaction goes through it, so
//! none can forget the SQLite write turn or the detachment from the request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use latchkey_core::store::StoreError;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::errors::backend;
use crate::store::SqlStore;

/// Whose turn it is to write, on a backend that lets one writer at a time: waiting here, in order,
/// is cheaper and fairer than waiting in SQLite's busy handler, which sleeps 1, 2, 5, 10… ms
/// between tries (BENCHMARKS.md: p99 23 ms for inserts, 96 ms for rotations at 32 connections).
/// Other processes (the CLI) still meet the busy handler, which is what it is for.
#[derive(Clone)]
pub(crate) struct WriteTurn(Option<Arc<Mutex<()>>>);

impl WriteTurn {
    /// Turns to take on a backend with one writer at a time (SQLite); none on one whose writers
    /// run in parallel (PostgreSQL).
    pub(crate) fn new(one_writer: bool) -> Self {
        WriteTurn(one_writer.then(|| Arc::new(Mutex::new(()))))
    }

    /// Waits for this process's turn to write; the next writer's turn comes when the guard drops.
    pub(crate) async fn take(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.0 {
            Some(turn) => Some(turn.clone().lock_owned().await),
            None => None,
        }
    }
}

/// What a write's work returns: a future that may borrow the open transaction.
pub(crate) type Written<'t, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 't>>;

impl<DB: sqlx::Database> SqlStore<DB> {
    /// Runs `work` in one transaction and commits it; an error from `work` rolls it back. Every
    /// write of the store goes through here (the group-commit writer of `batch.rs` takes the same
    /// turn itself), and so:
    ///
    /// - on SQLite it first takes this process's write turn ([`WriteTurn`]), so that writers
    ///   queue in order instead of sleeping in the busy handler or failing with `database is
    ///   locked`;
    /// - it runs in its own task, so that a caller that goes away (a client that disconnects
    ///   mid-request) cannot cancel it halfway: sqlx 0.8.6 returns a connection whose `begin()` was
    ///   cancelled to the pool still inside a server-side transaction (sqlx issue 4393), and the
    ///   next borrower's statements would run in it. Hence `work` owns what it needs (`'static`)
    ///   and borrows only the transaction.
    ///
    /// ```text
    /// let row = row.clone();
    /// self.write(move |tx| Box::pin(async move { insert(tx, &row).await })).await
    /// ```
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut sqlx::Transaction<'static, DB>) -> Written<'t, T>
            + Send
            + 'static,
    {
        self.write_then(Ending::Commit, work).await
    }

    /// [`SqlStore::write`], ending as `ending` says: a dry run does all the work, then rolls it
    /// back.
    pub(crate) async fn write_then<T, F>(&self, ending: Ending, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut sqlx::Transaction<'static, DB>) -> Written<'t, T>
            + Send
            + 'static,
    {
        let (pool, writes) = (self.pool.clone(), self.writes.clone());
        detached(async move { transaction(&pool, &writes, ending, work).await }).await
    }
}

/// How a write's transaction ends when its work succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Commit,
    RollBack,
}

/// One write transaction, after this process's write turn: the body of [`SqlStore::write`], which
/// runs it detached. A group-commit writer (`batch.rs`) calls it directly, being a task of its own.
pub(crate) async fn transaction<DB, T, F>(
    pool: &sqlx::Pool<DB>,
    writes: &WriteTurn,
    ending: Ending,
    work: F,
) -> Result<T, StoreError>
where
    DB: sqlx::Database,
    F: for<'t> FnOnce(&'t mut sqlx::Transaction<'static, DB>) -> Written<'t, T>,
{
    let _turn = writes.take().await;
    let mut tx = pool.begin().await.map_err(backend)?;
    let done = work(&mut tx).await?;
    match ending {
        Ending::Commit => tx.commit().await.map_err(backend)?,
        Ending::RollBack => tx.rollback().await.map_err(backend)?,
    }
    Ok(done)
}

/// Runs `work` in its own task: see [`SqlStore::write`].
async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(work)
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))?
}
