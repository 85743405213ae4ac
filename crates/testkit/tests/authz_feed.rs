//! The authz change feed (`GET /authz/v1/changes`, a long poll) and the version carried by check
//! answers, over real HTTP, on SQLite and on PostgreSQL.
//!
//! No assertion is timed tightly: a poll that should answer early is given 30 s against a 60 s
//! wait, so only a poll that really waited out its wait fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use latchkey_core::authz::rule::RoleAssignment;
use latchkey_core::store::Store;
use latchkey_server::clock::now;
use latchkey_testkit::TestServer;
use serde_json::{json, Value};

const VIEW: &str = "act^content_libraries.view_library";
const PHYSICS: &str = "lib^lib:MITx:physics";
/// Far below the 60 s wait the polls ask for, far above any scheduling delay.
const EARLY: Duration = Duration::from_secs(30);

/// A confidential client of an ordinary user, granted `authz:read`.
struct Caller {
    base: String,
    id: String,
    secret: String,
    http: reqwest::Client,
}

impl Caller {
    async fn new(server: &TestServer<impl Store>) -> Caller {
        server.user("alice", "alice-pw").await;
        let (id, secret) = server
            .confidential_with("lms", "alice", "client-credentials", &["authz:read"])
            .await;
        Caller {
            base: server.base.clone(),
            id,
            secret,
            http: reqwest::Client::new(),
        }
    }

    /// One poll of the feed; the version it answers.
    async fn poll(&self, after: i64, wait: u64) -> i64 {
        let r = self
            .http
            .get(format!("{}/authz/v1/changes", self.base))
            .query(&[("after", after.to_string()), ("wait", wait.to_string())])
            .basic_auth(&self.id, Some(&self.secret))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let body: Value = r.json().await.unwrap();
        body["version"].as_i64().unwrap()
    }

    /// A poll that must answer well before its 60 s wait ends.
    async fn poll_early(&self, after: i64) -> i64 {
        tokio::time::timeout(EARLY, self.poll(after, 60))
            .await
            .expect("the poll answered before its wait ended")
    }

    async fn check(&self, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/authz/v1/check", self.base))
            .json(&body)
            .basic_auth(&self.id, Some(&self.secret))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

fn alice_author() -> RoleAssignment {
    RoleAssignment::new("user^alice", "role^library_author", PHYSICS).unwrap()
}

async fn a_poll_behind_answers_at_once(server: TestServer<impl Store>) {
    let caller = Caller::new(&server).await;
    let version = server.authz.version();
    assert!(version > 0, "the default policy was written");
    assert_eq!(caller.poll_early(version - 1).await, version);
    assert_eq!(caller.poll_early(-1).await, version);
}

async fn a_waiting_poll_wakes_on_a_change(server: TestServer<impl Store>) {
    let caller = Caller::new(&server).await;
    let before = server.authz.version();
    let poll = tokio::spawn(async move { caller.poll_early(before).await });
    // Give the poll time to arrive and wait; if it arrives late it answers at once, also right.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(server
        .authz
        .assign(&alice_author(), "test", now())
        .await
        .unwrap());
    let after = poll.await.unwrap();
    assert_eq!(after, server.authz.version());
    assert!(after > before);
}

async fn a_quiet_poll_ends_with_the_same_version(server: TestServer<impl Store>) {
    let caller = Caller::new(&server).await;
    let version = server.authz.version();
    assert_eq!(caller.poll(version, 1).await, version);
}

async fn shutdown_ends_waiting_polls(server: TestServer<impl Store>) {
    let caller = Caller::new(&server).await;
    let version = server.authz.version();
    let poll = tokio::spawn(async move { caller.poll_early(version).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.authz.close_feed();
    assert_eq!(poll.await.unwrap(), version);
}

async fn checks_carry_their_version(server: TestServer<impl Store>) {
    let caller = Caller::new(&server).await;
    let check = json!({"subject": "user^alice", "action": VIEW, "scope": PHYSICS});
    let v0 = server.authz.version();
    assert_eq!(
        caller.check(check.clone()).await,
        json!({"allowed": false, "version": v0})
    );
    server
        .authz
        .assign(&alice_author(), "test", now())
        .await
        .unwrap();
    let v1 = server.authz.version();
    assert_eq!(
        caller.check(check.clone()).await,
        json!({"allowed": true, "version": v1})
    );
    assert_eq!(
        caller.check(json!({"checks": [check]})).await,
        json!({"results": [{"allowed": true}], "version": v1})
    );
}

async fn the_feed_needs_a_client_granted_authz_read(server: TestServer<impl Store>) {
    let caller = Caller::new(&server).await;
    let url = format!("{}/authz/v1/changes?after=0", caller.base);
    for request in [
        caller.http.get(&url),
        caller.http.get(&url).basic_auth(&caller.id, Some("wrong")),
    ] {
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic"));
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client", "{body}");
        assert!(body["error_description"].is_string(), "{body}");
    }
    // Authenticated, but not granted authz:read.
    let (id, secret) = server
        .confidential("plain", "alice", "client-credentials")
        .await;
    let r = caller
        .http
        .get(&url)
        .basic_auth(&id, Some(&secret))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(!r.headers().contains_key("www-authenticate"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client", "{body}");
    let r = caller
        .http
        .get(format!("{}/authz/v1/changes?after=x", caller.base))
        .basic_auth(&caller.id, Some(&caller.secret))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
}

latchkey_testkit::on_both_backends!(
    a_poll_behind_answers_at_once,
    a_waiting_poll_wakes_on_a_change,
    a_quiet_poll_ends_with_the_same_version,
    shutdown_ends_waiting_polls,
    checks_carry_their_version,
    the_feed_needs_a_client_granted_authz_read,
);

/// Two nodes on one PostgreSQL database: a poll waiting on the first answers when the first hears
/// the notice of a change made through the second (no janitor runs).
#[tokio::test]
async fn postgres_a_change_on_another_node_wakes_the_poll() {
    let first = TestServer::postgres().await;
    let second = first.another_node().await;
    let caller = Caller::new(&first).await;
    let before = first.authz_settled().await;
    let poll = tokio::spawn(async move { caller.poll_early(before).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    second
        .authz
        .assign(&alice_author(), "test", now())
        .await
        .unwrap();
    let after = poll.await.unwrap();
    assert_eq!(after, second.authz.version());
    assert!(after > before);
}
