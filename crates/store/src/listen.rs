//! PostgreSQL's side of change notices: one connection per node `LISTEN`s on the channel and
//! hands what it hears to the store's hub. When the connection drops (a restart, a failover, a
//! network cut) it reconnects with backoff and then tells every subscriber it may have missed
//! notices, so that they re-read everything.

use std::time::Duration;

use latchkey_core::notice::Notice;
use sqlx::postgres::PgListener;
use sqlx::PgPool;

use crate::notices::{decode, Sender, CHANNEL};

const FIRST_RETRY: Duration = Duration::from_millis(50);
const LAST_RETRY: Duration = Duration::from_secs(2);

/// Starts this node's listener; it stops when the store is dropped.
pub(crate) fn spawn(pool: PgPool, hub: Sender) {
    tokio::spawn(async move {
        let mut alive = hub.alive.clone();
        tokio::select! {
            () = follow(&pool, &hub) => {}
            _ = alive.changed() => {}
        }
    });
}

async fn follow(pool: &PgPool, hub: &Sender) {
    loop {
        let mut listener = connect(pool).await;
        // Whatever was sent while no connection listened is lost, and so is what changed
        // between a subscriber's first read and this node's first listening connection.
        hub.send(Notice::Missed);
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => hub.send(decode(n.payload())),
                Ok(None) => {
                    tracing::warn!("change notices: connection lost; reconnecting");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "change notices: listening failed; reconnecting");
                    break;
                }
            }
        }
    }
}

/// A listening connection, after as many tries as it takes.
async fn connect(pool: &PgPool) -> PgListener {
    let mut wait = FIRST_RETRY;
    loop {
        let attempt = async {
            let mut listener = PgListener::connect_with(pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match attempt.await {
            Ok(listener) => return listener,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?wait, "change notices: cannot listen");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(LAST_RETRY);
            }
        }
    }
}
