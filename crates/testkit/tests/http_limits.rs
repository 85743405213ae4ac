//! The HTTP server's limits over raw TCP, as a slow or greedy client meets them: headers and
//! bodies that trickle, idle keep-alive connections, and more connections than the cap.
//!
//! The limits here are 1 s; every wait for the server to act is bounded by 10 s, so only a server
//! that does not act at all fails, however loaded the machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use latchkey_server::HttpSettings;
use latchkey_testkit::TestServer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUND: Duration = Duration::from_secs(10);

fn short(max_connections: usize) -> HttpSettings {
    HttpSettings {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(1),
        max_connections,
    }
}

async fn connect(server: &TestServer<impl latchkey_core::store::Store>) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Everything the server sends until it closes the connection; panics if it does not within
/// `BOUND`.
async fn until_closed(stream: &mut (impl AsyncRead + Unpin)) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&got).into_owned()
}

/// Writes `bytes` one at a time, `every` apart, until done or the server hangs up.
async fn trickle(stream: &mut (impl AsyncWrite + Unpin), bytes: &[u8], every: Duration) {
    for b in bytes {
        if stream.write_all(&[*b]).await.is_err() {
            return;
        }
        tokio::time::sleep(every).await;
    }
}

/// Reads one response to a `GET` (headers and a `Content-Length` body); panics if none comes
/// within `within`.
async fn response(stream: &mut TcpStream, within: Duration) -> String {
    let mut got = Vec::new();
    tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "closed before a response: {:?}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    return;
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no response within {within:?}"));
    String::from_utf8_lossy(&got).into_owned()
}

const LIVE: &[u8] = b"GET /health/live HTTP/1.1\r\nHost: latchkey\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_that_trickle_are_cut_at_the_header_timeout() {
    let server = TestServer::sqlite_with_http(short(100)).await;
    let mut stream = connect(&server).await;
    // Each byte comes well within the timeout: only a limit on the whole head stops this.
    let request =
        b"GET /health/live HTTP/1.1\r\nHost: latchkey\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let (mut read, mut write) = stream.split();
    let writer = trickle(&mut write, request, Duration::from_millis(200));
    let (_, answer) = tokio::join!(writer, until_closed(&mut read));
    assert_eq!(
        answer, "",
        "closed without an answer to the unfinished request"
    );

    // A connection that sends nothing at all is closed too.
    let mut silent = connect(&server).await;
    assert_eq!(until_closed(&mut silent).await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_but_a_long_handler_is_not() {
    let server = TestServer::sqlite_with_http(short(100)).await;
    let mut stream = connect(&server).await;
    stream.write_all(LIVE).await.unwrap();
    assert!(response(&mut stream, BOUND)
        .await
        .starts_with("HTTP/1.1 200"));
    // Kept alive: a second request on the same connection is served.
    stream.write_all(LIVE).await.unwrap();
    assert!(response(&mut stream, BOUND)
        .await
        .starts_with("HTTP/1.1 200"));
    assert_eq!(until_closed(&mut stream).await, "", "closed once idle");

    // The change feed's long poll takes 3 s, three times the idle and header timeouts: a
    // handler's own time is not idleness.
    server.user("alice", "alice-pw").await;
    let (id, secret) = server
        .confidential_with("lms", "alice", "client-credentials", &["authz:read"])
        .await;
    let version = server.authz.version();
    let poll = reqwest::Client::new()
        .get(server.url("/authz/v1/changes"))
        .query(&[("after", version.to_string()), ("wait", "3".into())])
        .basic_auth(id, Some(secret))
        .send()
        .await
        .unwrap();
    assert_eq!(poll.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_is_answered_408_at_the_body_timeout() {
    let server = TestServer::sqlite_with_http(short(100)).await;
    for (path, body) in [
        (
            "/oauth2/access_token",
            "grant_type=client_credentials&client_id=nobody&client_secret=nothing",
        ),
        ("/login", "username=nobody&password=nothing-at-all-here"),
    ] {
        let mut stream = connect(&server).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: latchkey\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let (mut read, mut write) = stream.split();
        let writer = trickle(&mut write, body.as_bytes(), Duration::from_millis(200));
        let (_, answer) = tokio::join!(writer, until_closed(&mut read));
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_cap_a_connection_waits_until_another_closes() {
    let mut settings = short(2);
    // Long enough that the two held connections stay open for the whole test.
    settings.idle_timeout = Duration::from_secs(30);
    settings.header_timeout = Duration::from_secs(30);
    let server = TestServer::sqlite_with_http(settings).await;
    let mut first = connect(&server).await;
    let mut second = connect(&server).await;
    for held in [&mut first, &mut second] {
        held.write_all(LIVE).await.unwrap();
        assert!(response(held, BOUND).await.starts_with("HTTP/1.1 200"));
    }
    // The kernel completes the handshake; the server does not take the connection.
    let mut third = connect(&server).await;
    third.write_all(LIVE).await.unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "served past the cap: {early:?}");
    drop(first);
    assert!(response(&mut third, BOUND)
        .await
        .starts_with("HTTP/1.1 200"));
}
