//! Connections the store keeps for its hottest statements, beside sqlx's pool: [`Kept`].
//!
//! sqlx 0.8 checks a pooled connection with a round trip when it is taken and flushes it with
//! another when it is given back, so a one-statement read through the pool costs three round trips
//! to the database, and as many wake-ups of its backend process (of sqlx's worker thread, on
//! SQLite). The checks are for a connection that a cancelled request left inside a transaction,
//! or that the database closed while it sat idle. A kept connection needs neither: what runs on it
//! is whole by itself (a single statement, or SQLite's redemption transaction, which its last call
//! commits); it goes back only after that succeeded (after a failure, or when the request is
//! cancelled, it is dropped with the future that held it, and a transaction left open is rolled
//! back as the connection closes); and work that meets a connection the database closed meanwhile
//! runs once more on a new one. So only work that may run twice comes here: reads, and writes
//! that are whole in one statement or one transaction.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use latchkey_core::store::StoreError;
use sqlx::ConnectOptions as _;
use tokio::sync::Semaphore;

use crate::errors::backend;

/// One statement on a connection, as [`Kept::run`] takes it: it owns what it binds, since it may
/// run twice.
pub(crate) type Statement<'c, T> =
    Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

/// A backend's settings for its kept connections, applied to the pool's connect options.
pub(crate) type KeptOptions<DB> = fn(Options<DB>) -> Options<DB>;

/// How a backend's connections are made.
type Options<DB> = <<DB as sqlx::Database>::Connection as sqlx::Connection>::Options;

pub(crate) struct Kept<DB: sqlx::Database> {
    /// How long a caller may wait for a connection: as long as the pool lets one wait.
    wait: Duration,
    /// How a new kept connection is made: the pool's options, and the backend's settings for
    /// statements on every request's path ([`KeptOptions`]).
    options: Options<DB>,
    idle: Mutex<Vec<DB::Connection>>,
    /// Connections in use or idle, at most as many as its permits.
    slots: Semaphore,
}

impl<DB: sqlx::Database> Kept<DB> {
    /// Keeps up to `slots` connections, made on first use with `pool`'s options as `tuned` sets
    /// them.
    pub(crate) fn new(pool: &sqlx::Pool<DB>, slots: usize, tuned: KeptOptions<DB>) -> Self {
        Kept {
            wait: pool.options().get_acquire_timeout(),
            options: tuned((*pool.connect_options()).clone()),
            idle: Mutex::new(Vec::with_capacity(slots)),
            slots: Semaphore::new(slots.max(1)),
        }
    }

    /// Runs `statement` on a kept connection (a new one when none is idle); if it fails because a
    /// kept connection was closed under it, once more on a new one. A caller waits for a free
    /// connection at most as long as the pool would let it wait for one of its own.
    pub(crate) async fn run<T, F>(&self, statement: F) -> Result<T, StoreError>
    where
        F: for<'c> Fn(&'c mut DB::Connection) -> Statement<'c, T>,
    {
        let bound = self.wait;
        // The semaphore is never closed, so the only failure is the wait.
        let _slot = match tokio::time::timeout(bound, self.slots.acquire()).await {
            Ok(Ok(slot)) => slot,
            _ => return Err(waited_too_long(bound)),
        };
        let idle = self.idle().pop();
        let was_idle = idle.is_some();
        let mut conn = match idle {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        let done = match statement(&mut conn).await.map_err(backend) {
            Err(StoreError::Unavailable(_)) if was_idle => {
                conn = self.connect().await?;
                statement(&mut conn).await.map_err(backend)
            }
            done => done,
        }?;
        self.idle().push(conn);
        Ok(done)
    }

    /// The idle connections. A poisoned lock still holds whole connections: each one is pushed or
    /// popped in one step.
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<DB::Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new connection with the kept connections' options, within the time the pool gives to take
    /// one: a database that does not answer is [`StoreError::Unavailable`] as soon as for a pooled
    /// one.
    async fn connect(&self) -> Result<DB::Connection, StoreError> {
        let bound = self.wait;
        match tokio::time::timeout(bound, self.options.connect()).await {
            Ok(made) => made.map_err(backend),
            Err(_) => Err(waited_too_long(bound)),
        }
    }
}

fn waited_too_long(bound: Duration) -> StoreError {
    StoreError::Unavailable(format!("no connection within {} s", bound.as_secs()).into())
}
