//! The connection each batcher (`batch.rs`: the reads on every request's path, opaque access
//! tokens, code redemptions) keeps for its statements, beside sqlx's pool: [`Kept`]. A batcher runs
//! one batch at a time, so one connection each is all it uses: three per node.
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
use std::time::Duration;

use latchkey_core::store::StoreError;
use sqlx::ConnectOptions as _;
use tokio::sync::Mutex;

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
    /// How long a caller may wait for the connection: as long as the pool lets one wait.
    wait: Duration,
    /// How a new connection is made: the pool's options, and the backend's settings for
    /// statements on every request's path ([`KeptOptions`]).
    options: Options<DB>,
    /// The connection once made, locked while a statement runs on it; `None` until the first
    /// statement, and after one whose future was dropped or that failed.
    conn: Mutex<Option<DB::Connection>>,
}

impl<DB: sqlx::Database> Kept<DB> {
    /// Keeps one connection, made on first use with `pool`'s options as `tuned` sets them.
    pub(crate) fn new(pool: &sqlx::Pool<DB>, tuned: KeptOptions<DB>) -> Self {
        Kept {
            wait: pool.options().get_acquire_timeout(),
            options: tuned((*pool.connect_options()).clone()),
            conn: Mutex::new(None),
        }
    }

    /// Runs `statement` on the kept connection (a new one when there is none); if it fails
    /// because the kept connection was closed under it, once more on a new one. A caller waits for
    /// the connection at most as long as the pool would let it wait for one of its own.
    pub(crate) async fn run<T, F>(&self, statement: F) -> Result<T, StoreError>
    where
        F: for<'c> Fn(&'c mut DB::Connection) -> Statement<'c, T>,
    {
        let bound = self.wait;
        let Ok(mut kept) = tokio::time::timeout(bound, self.conn.lock()).await else {
            return Err(waited_too_long(bound));
        };
        // Taken out while the statement runs: if its future is dropped halfway, the connection
        // goes with it, and a transaction left open is rolled back as it closes.
        let open = kept.take();
        let was_open = open.is_some();
        let mut conn = match open {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        let done = match statement(&mut conn).await.map_err(backend) {
            Err(StoreError::Unavailable(_)) if was_open => {
                conn = self.connect().await?;
                statement(&mut conn).await.map_err(backend)
            }
            done => done,
        }?;
        *kept = Some(conn);
        Ok(done)
    }

    /// A new connection with the kept connection's options, within the time the pool gives to take
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
