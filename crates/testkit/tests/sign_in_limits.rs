//! The password sign-in's limits under attack, over real HTTP on SQLite and PostgreSQL: parallel
//! guesses never reach argon2id more often than the limits allow, a flood is refused at once
//! instead of queued, clients behind trusted proxies are counted apart, and every failure looks
//! like every other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::password::PasswordParams;
use latchkey_core::store::Store;
use latchkey_testkit::{on_both_backends, test_settings, Settings, TestServer};
use serde_json::Value;

/// One password grant from `address` (sent as the trusted loopback proxy's `X-Forwarded-For`).
async fn sign_in(
    server: &TestServer<impl Store>,
    client_id: &str,
    address: &str,
    login: &str,
    password: &str,
) -> (u16, Option<String>, Value) {
    let r = reqwest::Client::new()
        .post(server.url("/oauth2/access_token"))
        .header("x-forwarded-for", address)
        .form(&[
            ("grant_type", "password"),
            ("username", login),
            ("password", password),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

/// Runs `n` sign-ins at once; `each(i)` says from where, as whom, with which password.
async fn all_at_once<S: Store>(
    server: &TestServer<S>,
    client_id: &str,
    n: usize,
    each: impl Fn(usize) -> (String, String, String),
) -> Vec<u16> {
    let requests = (0..n).map(|i| {
        let (address, login, password) = each(i);
        async move {
            sign_in(server, client_id, &address, &login, &password)
                .await
                .0
        }
    });
    futures_join_all(requests).await
}

/// `join_all` without a dependency: every future polled together on this task.
async fn futures_join_all<F: std::future::Future<Output = u16>>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(Box::pin).collect();
    let mut out = Vec::with_capacity(handles.len());
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for slot in pending.iter_mut() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(status) => {
                        out.push(status);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out
}

/// Limits for the parallel tests: only the one under test can refuse, the queue takes everything.
fn only_limits(account: u32, ip: u32) -> Settings {
    let mut s = test_settings();
    s.throttle.account_failures = account;
    s.throttle.ip_failures = ip;
    s.throttle.ip_in_flight = 10_000;
    s.hashing_queue_per_thread = 4096;
    s
}

async fn mobile(server: &TestServer<impl Store>) -> String {
    server.user("alice", "alice-pw").await;
    server.public("mobile", "alice", "password").await
}

/// Sixty guesses at one account at once, by username and by email (one account, one bucket):
/// at most the account's limit of ten reach argon2id, and the rest are refused unchecked.
async fn parallel_guesses_at_one_account_reach_argon2id_at_most_the_limit<S: Store>(
    server: TestServer<S>,
) {
    let client = mobile(&server).await;
    let pool = server.tokens.sign_in().passwords().clone();
    let before = pool.runs();
    let statuses = all_at_once(&server, &client, 60, |i| {
        let login = if i % 2 == 0 {
            "alice"
        } else {
            "ALICE@example.org"
        };
        (
            format!("198.51.100.{}", i % 50),
            login.into(),
            "wrong".into(),
        )
    })
    .await;
    let checked = pool.runs() - before;
    assert!(
        checked <= 10,
        "{checked} guesses reached argon2id (limit 10)"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count() as u64,
        checked
    );
    assert!(
        statuses.iter().all(|s| *s == 400 || *s == 429),
        "{statuses:?}"
    );
    // The right password is refused too while the account is locked.
    let (status, retry, _) = sign_in(&server, &client, "192.0.2.1", "alice", "alice-pw").await;
    assert_eq!(status, 429);
    assert!(retry.unwrap().parse::<i64>().unwrap() > 0);
}

/// 250 guesses from one address at once, each at another account: at most the address's limit
/// of 50 reach argon2id (unknown accounts spend a decoy verification, which counts).
async fn parallel_guesses_from_one_address_reach_argon2id_at_most_the_limit<S: Store>(
    server: TestServer<S>,
) {
    let client = mobile(&server).await;
    let pool = server.tokens.sign_in().passwords().clone();
    let before = pool.runs();
    let statuses = all_at_once(&server, &client, 250, |i| {
        ("203.0.113.7".into(), format!("user{i}"), "guess".into())
    })
    .await;
    let checked = pool.runs() - before;
    assert!(
        checked <= 50,
        "{checked} guesses reached argon2id (limit 50)"
    );
    assert!(
        statuses.iter().all(|s| *s == 400 || *s == 429),
        "{statuses:?}"
    );
    // Another address is not affected, nor is the account's owner.
    let (status, _, body) = sign_in(&server, &client, "203.0.113.8", "alice", "alice-pw").await;
    assert_eq!(status, 200, "{body}");
}

/// A full hashing queue answers 503 with Retry-After at once; nothing is queued behind it.
async fn a_full_hashing_queue_is_refused_with_503<S: Store>(server: TestServer<S>) {
    let client = mobile(&server).await;
    let statuses = all_at_once(&server, &client, 64, |i| {
        (format!("198.51.100.{i}"), format!("u{i}"), "x".into())
    })
    .await;
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 400 || *s == 503),
        "{statuses:?}"
    );
    // When the flood is over, sign-ins go through again.
    let (status, _, body) = sign_in(&server, &client, "192.0.2.1", "alice", "alice-pw").await;
    assert_eq!(status, 200, "{body}");
}

fn tiny_queue() -> Settings {
    let mut s = only_limits(10_000, 10_000);
    // Real argon2id cost, so that hashes queue up behind the two threads.
    s.passwords = PasswordParams::default();
    s.hashing_queue_per_thread = 1;
    s
}

/// One address holds at most `ip_in_flight` sign-ins at once; the rest get 429 at once.
async fn one_address_holds_a_bounded_share_of_sign_ins_in_flight<S: Store>(server: TestServer<S>) {
    let client = mobile(&server).await;
    let statuses = all_at_once(&server, &client, 24, |i| {
        ("203.0.113.50".into(), format!("u{i}"), "x".into())
    })
    .await;
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 400 || *s == 429),
        "{statuses:?}"
    );
}

fn two_in_flight() -> Settings {
    let mut s = only_limits(10_000, 10_000);
    s.passwords = PasswordParams::default();
    s.throttle.ip_in_flight = 2;
    s
}

/// Behind a trusted proxy each client address is counted on its own: one failing client does
/// not lock out everyone behind the same ingress.
async fn clients_behind_a_trusted_proxy_are_counted_apart<S: Store>(server: TestServer<S>) {
    let client = mobile(&server).await;
    server.user("bob", "bob-pw").await;
    for i in 0..5 {
        let (status, _, _) = sign_in(&server, &client, "198.51.100.1", &format!("x{i}"), "x").await;
        assert_eq!(status, 400);
    }
    let (status, _, _) = sign_in(&server, &client, "198.51.100.1", "bob", "bob-pw").await;
    assert_eq!(status, 429, "the failing address is locked");
    let (status, _, body) = sign_in(&server, &client, "198.51.100.2", "bob", "bob-pw").await;
    assert_eq!(status, 200, "another client behind the same proxy: {body}");
}

fn five_per_address() -> Settings {
    only_limits(10_000, 5)
}

/// A disabled account with its right password, a wrong password and an unknown login get one
/// answer: the password of a disabled account is not confirmed.
async fn every_failed_sign_in_gets_one_answer<S: Store>(server: TestServer<S>) {
    let client = mobile(&server).await;
    server.user("carol", "carol-pw").await;
    server
        .admin
        .set_disabled("carol", true, latchkey_server::clock::now())
        .await
        .unwrap();
    let disabled = sign_in(&server, &client, "192.0.2.1", "carol", "carol-pw").await;
    let wrong = sign_in(&server, &client, "192.0.2.2", "alice", "nope").await;
    let unknown = sign_in(&server, &client, "192.0.2.3", "nobody", "nope").await;
    assert_eq!((disabled.0, &disabled.2), (wrong.0, &wrong.2));
    assert_eq!((unknown.0, &unknown.2), (wrong.0, &wrong.2));
    assert_eq!(wrong.2["error"], "invalid_grant");
}

/// A public client that sends a secret, junk or not, is answered as an unknown client is; an
/// empty secret in HTTP Basic is no secret, as in the body.
async fn client_authentication_failures_look_alike<S: Store>(server: TestServer<S>) {
    let client = mobile(&server).await;
    let http = reqwest::Client::new();
    let token = |id: &str, secret: Option<&str>| {
        http.post(server.url("/oauth2/access_token"))
            .basic_auth(id, secret)
            .form(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-pw"),
            ])
            .send()
    };
    let junk = token(&client, Some("junk")).await.unwrap();
    let unknown = token("no-such-client", Some("junk")).await.unwrap();
    assert_eq!(junk.status(), unknown.status());
    let (junk, unknown): (Value, Value) =
        (junk.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(junk, unknown);
    let empty = token(&client, Some("")).await.unwrap();
    assert_eq!(
        empty.status().as_u16(),
        200,
        "{}",
        empty.text().await.unwrap()
    );
}

/// Wrong passwords at one account, sent to `nodes` in turn: the limit's worth are checked and
/// answered 400, then every node refuses, the right password too, for the rest of the window.
/// One node or several on one database: the same count.
async fn guesses_lock_the_account_at_its_limit<S: Store>(nodes: &[&TestServer<S>]) {
    let client = mobile(nodes[0]).await;
    let node = |i: usize| nodes[i % nodes.len()];
    for i in 0..3 {
        let (status, _, body) = sign_in(node(i), &client, "192.0.2.1", "alice", "wrong").await;
        assert_eq!(status, 400, "guess {i}: {body}");
    }
    for (i, password) in ["wrong", "alice-pw"].into_iter().enumerate() {
        let (status, retry, _) = sign_in(node(i), &client, "192.0.2.2", "alice", password).await;
        assert_eq!(status, 429);
        let retry: i64 = retry.unwrap().parse().unwrap();
        assert!(retry > 250, "locked for the window, not busy: {retry}");
    }
}

async fn an_account_locks_at_its_limit<S: Store>(server: TestServer<S>) {
    guesses_lock_the_account_at_its_limit(&[&server]).await;
}

fn three_per_account() -> Settings {
    only_limits(3, 100_000)
}

/// Two nodes on one PostgreSQL database count each attempt once: guesses spread over both lock
/// the account at the count one node locks it at.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_guesses_over_two_nodes_lock_the_account_at_one_nodes_limit() {
    let a = TestServer::postgres_with(three_per_account()).await;
    let b = a.another_node().await;
    guesses_lock_the_account_at_its_limit(&[&a, &b]).await;
}

/// Fifty guesses at one account at once, half to each of two nodes: the limit of ten reach
/// argon2id, counted over both nodes' hashing pools, and the rest are refused unchecked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_parallel_guesses_over_two_nodes_reach_argon2id_at_most_the_limit() {
    let a = TestServer::postgres_with(only_limits(10, 100_000)).await;
    let b = a.another_node().await;
    let client = mobile(&a).await;
    let runs = || a.tokens.sign_in().passwords().runs() + b.tokens.sign_in().passwords().runs();
    let before = runs();
    let guesses = (0..50).map(|i| {
        let (node, client) = (if i % 2 == 0 { &a } else { &b }, &client);
        async move {
            let address = format!("198.51.100.{i}");
            sign_in(node, client, &address, "alice", "wrong").await.0
        }
    });
    let statuses = futures_join_all(guesses).await;
    assert_eq!(runs() - before, 10, "guesses that reached argon2id");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 10);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 40);
}

/// A success on one node forgives the failures made on the other: the account has its whole
/// limit again, on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_success_on_one_node_forgives_failures_on_the_other() {
    let a = TestServer::postgres_with(three_per_account()).await;
    let b = a.another_node().await;
    let client = mobile(&a).await;
    for _ in 0..2 {
        assert_eq!(
            sign_in(&a, &client, "192.0.2.1", "alice", "wrong").await.0,
            400
        );
    }
    let (status, _, body) = sign_in(&b, &client, "192.0.2.1", "alice", "alice-pw").await;
    assert_eq!(status, 200, "{body}");
    for node in [&a, &b, &a] {
        assert_eq!(
            sign_in(node, &client, "192.0.2.1", "alice", "wrong")
                .await
                .0,
            400
        );
    }
    assert_eq!(
        sign_in(&b, &client, "192.0.2.1", "alice", "wrong").await.0,
        429
    );
}

/// The janitor removes counters whose window has ended, in bounded batches, and keeps the
/// others.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_the_janitor_removes_ended_attempt_windows() {
    let mut settings = only_limits(10, 100);
    // Two seconds, so that a window started just before the sweep has not ended at it.
    settings.throttle.window_secs = 2;
    let a = TestServer::postgres_with(settings).await;
    let b = a.another_node().await;
    let client = mobile(&a).await;
    let counters = || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM password_limits")
            .fetch_one(a.store.pool())
            .await
            .unwrap();
        n
    };
    for (node, login) in [(&a, "old1"), (&b, "old2")] {
        assert_eq!(
            sign_in(node, &client, "198.51.100.1", login, "x").await.0,
            400
        );
    }
    assert_eq!(counters().await, 3, "two accounts and one address");
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_eq!(
        sign_in(&b, &client, "198.51.100.2", "new", "x").await.0,
        400
    );
    let settings = latchkey_server::janitor::JanitorSettings {
        interval: std::time::Duration::from_secs(60),
        batch: 1,
        max_jwt_lifetime: 3600,
    };
    latchkey_server::janitor::sweep(&a.tokens, &a.keys, &a.authz, settings).await;
    assert_eq!(counters().await, 2, "the new attempt's account and address");
}

on_both_backends! {
    parallel_guesses_at_one_account_reach_argon2id_at_most_the_limit => only_limits(10, 100_000),
    parallel_guesses_from_one_address_reach_argon2id_at_most_the_limit => only_limits(100_000, 50),
    a_full_hashing_queue_is_refused_with_503 => tiny_queue(),
    one_address_holds_a_bounded_share_of_sign_ins_in_flight => two_in_flight(),
    clients_behind_a_trusted_proxy_are_counted_apart => five_per_address(),
    every_failed_sign_in_gets_one_answer,
    client_authentication_failures_look_alike,
    an_account_locks_at_its_limit => three_per_account(),
}
