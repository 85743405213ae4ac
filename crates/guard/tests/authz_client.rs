//! The guard's authz client against a real Latchkey server (`latchkey-testkit`), on SQLite and on
//! PostgreSQL: answers, the cache, invalidation by the change feed, and two nodes.
//!
//! The cache TTL is an hour here, so only the change feed can make a cached answer change. Waits
//! for a change are polls with a generous bound, never timed assertions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use latchkey_core::admin::UserSpec;
use latchkey_core::authz::rule::RoleAssignment;
use latchkey_core::store::Store;
use latchkey_guard::{AuthzClient, AuthzConfig, CheckError};
use latchkey_server::clock::now;
use latchkey_testkit::TestServer;

const VIEW: &str = "act^content_libraries.view_library";
const DELETE: &str = "act^content_libraries.delete_library";
const PHYSICS: &str = "lib^lib:MITx:physics";
/// How long a change may take to reach the client before the test fails: far above the feed's
/// latency (milliseconds locally, one 200 ms janitor interval across nodes).
const BOUND: Duration = Duration::from_secs(20);

/// A user `alice`, and a client with the credentials of a confidential client of hers granted
/// `authz:read`.
async fn client_of(server: &TestServer<impl Store>) -> AuthzClient {
    server.user("alice", "alice-pw").await;
    let (id, secret) = server
        .confidential_with("guard", "alice", "client-credentials", &["authz:read"])
        .await;
    client_at(&server.base, &id, &secret)
}

fn client_at(base: &str, id: &str, secret: &str) -> AuthzClient {
    let mut config = AuthzConfig::new(base, id, secret);
    config.cache_ttl = Duration::from_secs(3600);
    config.poll_wait = Duration::from_secs(10);
    AuthzClient::new(config).unwrap()
}

fn alice_author() -> RoleAssignment {
    RoleAssignment::new("user^alice", "role^library_author", PHYSICS).unwrap()
}

/// Checks until the answer is `want`, at most [`BOUND`].
async fn eventually(client: &AuthzClient, subject: &str, want: bool) {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        if client.check(subject, VIEW, PHYSICS).await.unwrap() == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still not {want} after {BOUND:?}: {:?}",
            client.stats()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn answers_are_cached_until_the_feed_says_the_rules_changed(server: TestServer<impl Store>) {
    let client = client_of(&server).await;
    assert!(!client.check("user^alice", VIEW, PHYSICS).await.unwrap());
    assert_eq!(client.version(), server.authz.version());
    assert!(!client.check("user^alice", VIEW, PHYSICS).await.unwrap());
    let stats = client.stats();
    assert_eq!(
        (stats.checks, stats.server_checks, stats.cache_hits),
        (2, 1, 1)
    );

    server
        .authz
        .assign(&alice_author(), "test", now())
        .await
        .unwrap();
    eventually(&client, "user^alice", true).await;
    assert!(client.stats().invalidations >= 1, "{:?}", client.stats());
    assert_eq!(client.version(), server.authz.version());
    // The new answer is cached in turn.
    let before = client.stats().server_checks;
    assert!(client.check("user^alice", VIEW, PHYSICS).await.unwrap());
    assert_eq!(client.stats().server_checks, before);

    server
        .authz
        .unassign(&alice_author(), "test", now())
        .await
        .unwrap();
    eventually(&client, "user^alice", false).await;
}

async fn a_batch_asks_only_what_is_not_cached(server: TestServer<impl Store>) {
    let client = client_of(&server).await;
    server
        .authz
        .assign(&alice_author(), "test", now())
        .await
        .unwrap();
    assert!(client.check("user^alice", VIEW, PHYSICS).await.unwrap());
    let answers = client
        .check_batch(&[
            ("user^alice", VIEW, PHYSICS),
            ("user^alice", DELETE, PHYSICS),
            ("user^bob", VIEW, PHYSICS),
        ])
        .await
        .unwrap();
    assert_eq!(answers, [true, false, false]);
    let stats = client.stats();
    assert_eq!(
        (stats.checks, stats.server_checks, stats.cache_hits),
        (4, 2, 1)
    );
    let again = client
        .check_batch(&[("user^bob", VIEW, PHYSICS), ("user^alice", DELETE, PHYSICS)])
        .await
        .unwrap();
    assert_eq!(again, [false, false]);
    assert_eq!(client.stats().server_checks, 2, "all from the cache");
}

async fn bad_questions_and_bad_credentials_get_no_answer(server: TestServer<impl Store>) {
    let client = client_of(&server).await;
    assert!(matches!(
        client.check("alice", VIEW, PHYSICS).await,
        Err(CheckError::Invalid(_))
    ));
    let (id, secret) = server
        .confidential("other", "alice", "client-credentials")
        .await;
    let wrong = client_at(&server.base, &id, "not-the-secret");
    assert!(matches!(
        wrong.check("user^alice", VIEW, PHYSICS).await,
        Err(CheckError::Unavailable(_))
    ));
    assert!(!format!("{wrong:?}").contains("not-the-secret"));
    // The right secret, but not granted authz:read: the operator learns which permission is missing.
    let unpermitted = client_at(&server.base, &id, &secret);
    match unpermitted.check("user^alice", VIEW, PHYSICS).await {
        Err(CheckError::Unavailable(why)) => assert!(why.contains("authz:read"), "{why}"),
        other => panic!("expected the server's refusal, got {other:?}"),
    }
}

/// openedx-authz's staff bypass decides too: a staff account created after a guard cached "no" for
/// it reaches the guard as a policy change (the store moves the version with the new account).
async fn a_new_staff_account_reaches_a_cached_denial(mut server: TestServer<impl Store>) {
    server.run_janitor(Duration::from_millis(200));
    let client = client_of(&server).await;
    assert!(!client.check("user^newstaff", VIEW, PHYSICS).await.unwrap());
    server
        .user_with(UserSpec {
            username: "newstaff".into(),
            email: "newstaff@example.org".into(),
            staff: true,
            ..UserSpec::default()
        })
        .await;
    eventually(&client, "user^newstaff", true).await;
}

latchkey_testkit::on_both_backends!(
    a_new_staff_account_reaches_a_cached_denial,
    answers_are_cached_until_the_feed_says_the_rules_changed,
    a_batch_asks_only_what_is_not_cached,
    bad_questions_and_bad_credentials_get_no_answer,
);

/// Two nodes on one PostgreSQL database: a client following the first sees a change made through
/// the second once the first's janitor has reloaded it.
#[tokio::test]
async fn postgres_a_change_on_another_node_reaches_a_client_of_the_first() {
    let mut first = TestServer::postgres().await;
    let second = first.another_node().await;
    first.run_janitor(Duration::from_millis(200));
    let client = client_of(&first).await;
    assert!(!client.check("user^alice", VIEW, PHYSICS).await.unwrap());

    second
        .authz
        .assign(&alice_author(), "test", now())
        .await
        .unwrap();
    eventually(&client, "user^alice", true).await;
    assert_eq!(client.version(), second.authz.version());
}
