//! The HTTP/1.1 listener: accepts connections up to a cap, and closes the ones that hold a slot
//! without using it: headers that come too slowly, a keep-alive connection left idle, a request
//! body that stalls. `axum::serve` has none of these limits; a client sending one header byte a
//! minute would keep its connection, and its task, forever.
//!
//! HTTP/2 is not served, as it was not by `axum::serve` with axum's default features: Open edX
//! clients speak HTTP/1.1, and a proxy in front terminates HTTP/2 when there is one.

mod body;
mod conn;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub(crate) use body::timed_out;

/// The limits on each connection, and on how many are served at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// A request's headers must be complete this long after the connection was accepted, or after
    /// the first byte of a later request on it arrived.
    pub header_timeout: Duration,
    /// Once a handler waits for more of a request body, the rest must arrive within this time;
    /// otherwise the request is answered 408 and the connection closed.
    pub body_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request. A handler's own time
    /// (the authz change feed waits up to a minute) is not idle time and is not limited here.
    pub idle_timeout: Duration,
    /// Connections served at once. At the cap no more are accepted until one closes: they wait
    /// in the kernel's listen backlog, and are refused by it when that is full.
    pub max_connections: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

/// Serves `app` until `shutdown` resolves, then stops accepting and finishes the requests in
/// flight; connections left idle are closed at once.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    settings: HttpSettings,
) -> io::Result<()> {
    // Turns every route into its final service once, not once per request (as `axum::serve`).
    let app = app.with_state(());
    let slots = Arc::new(Semaphore::new(
        settings.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = conn::serve(stream, peer, &app, settings, graceful.watcher());
        tokio::spawn(async move {
            connection.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A peer that gave up before its connection was accepted is no failure of ours; anything else
/// (out of file descriptors) is, and retrying at once would spin.
async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
