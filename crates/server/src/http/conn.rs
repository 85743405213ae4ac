//! One connection: hyper's HTTP/1.1 state machine, with a watchdog that closes it when the
//! client is too slow to send its headers or leaves it idle too long.
//!
//! hyper 1 has one timer for both (`header_read_timeout` runs from the end of a response to the
//! end of the next request's headers, hyper issue 1628), so it cannot give a keep-alive
//! connection a minute of idleness and a slow client ten seconds for its headers. The watchdog
//! does: the socket reports the first byte of each request, the service reports when a request
//! starts and when its response is ready, and one timer per connection follows the phases. All
//! three run inside the connection's task, so after each poll of the connection the watchdog
//! sees the phase that poll left and sets its timer to match; nothing needs waking across tasks.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::Watcher;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tower::Service;

use super::body::TimedBody;
use super::HttpSettings;

/// Serves one accepted connection until it closes, times out, or is shut down gracefully.
pub(super) fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    app: &Router,
    settings: HttpSettings,
    watcher: Watcher,
) -> impl Future<Output = ()> + Send + 'static {
    let phase = Arc::new(Phase::new());
    let io = TokioIo::new(Socket {
        stream,
        phase: phase.clone(),
    });
    let service = ConnService {
        app: app.clone(),
        peer,
        phase: phase.clone(),
        body_timeout: settings.body_timeout,
    };
    // hyper's own header timer is off: it would also bound idleness (see above).
    let connection = watcher.watch(
        http1::Builder::new()
            .header_read_timeout(None)
            .serve_connection(io, service),
    );
    let timer = match phase.deadline(&settings) {
        Some(deadline) => tokio::time::sleep_until(deadline),
        // tokio takes a duration past its far future for the far future.
        None => tokio::time::sleep(settings.header_timeout),
    };
    Watchdog {
        connection,
        timer,
        phase,
        settings,
        peer,
    }
}

/// Where a connection is between requests, shared by its socket, its service and its watchdog.
struct Phase {
    /// When the connection was accepted; `since` counts from here.
    start: Instant,
    state: AtomicU8,
    /// Milliseconds from `start` to when `state` was entered.
    since: AtomicU64,
}

/// Waiting for a request's headers to be complete: from the accept, or from the first byte of a
/// later request.
const HEADERS: u8 = 0;
/// A handler has the request; its time is its own.
const HANDLING: u8 = 1;
/// The response is ready; waiting for the next request to begin.
const IDLE: u8 = 2;

impl Phase {
    fn new() -> Phase {
        Phase {
            start: Instant::now(),
            state: AtomicU8::new(HEADERS),
            since: AtomicU64::new(0),
        }
    }

    // Relaxed is enough: the socket, the service and the watchdog run in one task, and a task
    // that moves between threads carries what it wrote with it.
    fn enter(&self, state: u8) {
        let since = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.since.store(since, Ordering::Relaxed);
        self.state.store(state, Ordering::Relaxed);
    }

    fn deadline(&self, settings: &HttpSettings) -> Option<Instant> {
        let limit = match self.state.load(Ordering::Relaxed) {
            HEADERS => settings.header_timeout,
            IDLE => settings.idle_timeout,
            _ => return None,
        };
        let since = Duration::from_millis(self.since.load(Ordering::Relaxed));
        // A limit too large to be a point in time is no limit.
        self.start.checked_add(since.saturating_add(limit))
    }

    fn bytes_arrived(&self) {
        if self.state.load(Ordering::Relaxed) == IDLE {
            self.enter(HEADERS);
        }
    }

    /// No clock read: handling has no deadline here.
    fn handling(&self) {
        self.state.store(HANDLING, Ordering::Relaxed);
    }
}

/// The TCP stream, reporting to the watchdog when bytes arrive on an idle connection.
struct Socket {
    stream: TcpStream,
    phase: Arc<Phase>,
}

impl AsyncRead for Socket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.phase.bytes_arrived();
        }
        read
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    // hyper writes a response's head and body in one call only when this says it may.
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The router as hyper calls it on this connection: with the peer's address for `ClientIp`, the
/// body under its timeout, and the phase reported to the watchdog.
struct ConnService {
    app: Router,
    peer: SocketAddr,
    phase: Arc<Phase>,
    body_timeout: Duration,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnService {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = Handling<axum::routing::future::RouteFuture<std::convert::Infallible>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.phase.handling();
        let mut request = request.map(|body| TimedBody::new(body, self.body_timeout));
        request.extensions_mut().insert(ConnectInfo(self.peer));
        // A router is always ready (its `poll_ready` returns `Ready` unconditionally), so it
        // can be called without asking.
        Handling {
            response: self.app.clone().call(request),
            phase: self.phase.clone(),
        }
    }
}

pin_project! {
    /// A handler's response on its way; when it is ready, the connection is idle until the next
    /// request begins.
    struct Handling<F> {
        #[pin]
        response: F,
        phase: Arc<Phase>,
    }
}

impl<F: Future> Future for Handling<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let response = std::task::ready!(this.response.poll(cx));
        this.phase.enter(IDLE);
        Poll::Ready(response)
    }
}

pin_project! {
    /// The connection with the one timer that bounds its headers and its idleness. Dropping the
    /// connection closes the socket; there is no response to send to a client that has not
    /// finished a request.
    struct Watchdog<C> {
        #[pin]
        connection: C,
        #[pin]
        timer: Sleep,
        phase: Arc<Phase>,
        settings: HttpSettings,
        peer: SocketAddr,
    }
}

impl<C, E> Future for Watchdog<C>
where
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if let Poll::Ready(result) = this.connection.poll(cx) {
            if let Err(e) = result {
                tracing::debug!(peer = %this.peer, error = %e, "connection ended with an error");
            }
            return Poll::Ready(());
        }
        // A handler at work wakes the connection when it finishes; no timer needed until then.
        let Some(deadline) = this.phase.deadline(this.settings) else {
            return Poll::Pending;
        };
        // The timer may ring early, never late. It is moved earlier only when it would be late
        // (moving a tokio timer re-files it in the timer wheel, under a lock), and when it rings
        // early it is moved to the deadline. A busy connection, whose deadlines keep moving
        // later, so touches its timer about once per header timeout rather than per request.
        if this.timer.deadline() > deadline {
            this.timer.as_mut().reset(deadline);
        }
        while this.timer.as_mut().poll(cx).is_ready() {
            if Instant::now() < deadline {
                this.timer.as_mut().reset(deadline);
                continue;
            }
            let waited = if this.phase.state.load(Ordering::Relaxed) == IDLE {
                "idle"
            } else {
                "headers"
            };
            tracing::debug!(peer = %this.peer, waited, "connection closed: timed out");
            metrics::counter!("latchkey_http_timeouts_total", "waiting_for" => waited).increment(1);
            return Poll::Ready(());
        }
        Poll::Pending
    }
}
