//! The guard following a revocation feed: against a stand-in for the server's feed that keeps its
//! documented HTTP contract (`latchkey_proto::revocation`), so that outages, wrong credentials
//! and paging can be staged; the real server's feed is exercised in `revocation_end_to_end.rs`.
//!
//! Waits for a change are polls with a generous bound, never timed assertions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use latchkey_guard::{
    AccessClaims, Algorithm, FailMode, Guard, GuardConfig, InvalidToken, KeySource, Rejection,
    RejectionKind, RevocationFeedConfig,
};
use latchkey_proto::{NotBefore, Revocations, RevocationsQuery, RevokedJti};
use latchkey_token::{JwkSet, SigningKey, JWT_VERSION};
use serde_json::json;
use tokio::sync::watch;

const AUDIENCE: &str = "openedx";
/// The guard's client, granted `revocations:read`.
const CLIENT: (&str, &str) = ("guard", "guard-secret");
/// A client the feed knows but has not granted `revocations:read`.
const UNPERMITTED: (&str, &str) = ("reporting", "reporting-secret");
/// How long a change may take to reach the guard before a test fails: far above the feed's
/// latency (one round trip) and the staleness limits used here (2 s).
const BOUND: Duration = Duration::from_secs(20);

/// One entry of the feed, numbered by its place (the first is 1).
#[derive(Clone)]
enum Entry {
    Jti(RevokedJti),
    User(NotBefore),
}

/// The feed: `GET /oauth2/revocations?after=CURSOR&wait=SECONDS` with HTTP Basic.
#[derive(Clone)]
struct Feed(Arc<FeedState>);

struct FeedState {
    entries: Mutex<Vec<Entry>>,
    /// The number of the newest entry; waiting polls watch it.
    head: watch::Sender<i64>,
    /// Answers 503 to every poll while set.
    down: AtomicBool,
    /// Entries per answer.
    page: usize,
    polls: AtomicU64,
}

impl Feed {
    fn new(page: usize) -> Feed {
        Feed(Arc::new(FeedState {
            entries: Mutex::new(Vec::new()),
            head: watch::Sender::new(0),
            down: AtomicBool::new(false),
            page,
            polls: AtomicU64::new(0),
        }))
    }

    fn add(&self, added: impl IntoIterator<Item = Entry>) {
        let mut entries = self.0.entries.lock().unwrap();
        entries.extend(added);
        self.0.head.send_replace(entries.len() as i64);
    }

    fn revoke(&self, jti: &str, exp: i64) {
        self.add([Entry::Jti(RevokedJti {
            jti: jti.into(),
            exp,
        })]);
    }

    fn cut_off(&self, sub: &str, not_before: i64) {
        self.add([Entry::User(NotBefore {
            sub: sub.into(),
            not_before,
        })]);
    }

    fn set_down(&self, down: bool) {
        self.0.down.store(down, Ordering::SeqCst);
    }

    fn head(&self) -> i64 {
        *self.0.head.borrow()
    }

    fn polls(&self) -> u64 {
        self.0.polls.load(Ordering::SeqCst)
    }

    /// What follows `after`, a page of it: everything (`full`) without a cursor or with one this
    /// feed never gave.
    fn page_after(&self, after: Option<i64>) -> Revocations {
        let entries = self.0.entries.lock().unwrap();
        let head = entries.len() as i64;
        let (from, full) = match after {
            Some(after) if (0..=head).contains(&after) => (after, false),
            _ => (0, true),
        };
        let page: Vec<Entry> = entries
            .iter()
            .skip(from as usize)
            .take(self.0.page)
            .cloned()
            .collect();
        let cursor = from + page.len() as i64;
        let mut answer = Revocations {
            cursor,
            full,
            more: cursor < head,
            ..Revocations::default()
        };
        for entry in page {
            match entry {
                Entry::Jti(jti) => answer.jtis.push(jti),
                Entry::User(user) => answer.users.push(user),
            }
        }
        answer
    }

    async fn serve(&self) -> String {
        let app = Router::new()
            .route("/oauth2/revocations", get(revocations))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (status, Json(body)).into_response()
}

/// The HTTP Basic credentials of a request (RFC 7617).
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

async fn revocations(
    State(feed): State<Feed>,
    headers: HeaderMap,
    Query(query): Query<RevocationsQuery>,
) -> Response {
    feed.0.polls.fetch_add(1, Ordering::SeqCst);
    if feed.0.down.load(Ordering::SeqCst) {
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the feed is down",
        );
    }
    let client = basic(&headers);
    let is = |(id, secret): (&str, &str)| {
        client
            .as_ref()
            .is_some_and(|(i, s)| (i.as_str(), s.as_str()) == (id, secret))
    };
    if is(UNPERMITTED) {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "the client lacks the permission revocations:read",
        );
    }
    if !is(CLIENT) {
        let mut response = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        return response;
    }
    let mut head = feed.0.head.subscribe();
    let current = *head.borrow_and_update();
    if let Some(after) = query.after.filter(|&after| after == current) {
        // Nothing newer: answer when something arrives or the wait ends (default 25 s, at most 60).
        let wait = Duration::from_secs(query.wait.unwrap_or(25).min(60));
        let _ = tokio::time::timeout(wait, head.wait_for(|&head| head > after)).await;
    }
    Json(feed.page_after(query.after)).into_response()
}

/// A feed and a key to sign tokens with, and guards of that issuer.
struct World {
    feed: Feed,
    base: String,
    key: SigningKey,
}

impl World {
    async fn new() -> World {
        World::paged(1000).await
    }

    async fn paged(page: usize) -> World {
        let feed = Feed::new(page);
        let base = feed.serve().await;
        World {
            feed,
            base,
            key: SigningKey::generate(Algorithm::ES256).unwrap(),
        }
    }

    /// A guard following the feed with `feed`'s settings; quiet polls end after 10 s, so that
    /// only tests that take the feed down see it stale.
    fn guard(&self, configure: impl FnOnce(&mut RevocationFeedConfig)) -> Guard {
        let mut config = GuardConfig::new(format!("{}/oauth2", self.base), AUDIENCE);
        config.keys = KeySource::Static(JwkSet {
            keys: vec![self.key.public_jwk()],
        });
        let mut feed = RevocationFeedConfig::new(CLIENT.0, CLIENT.1);
        feed.poll_wait = Duration::from_secs(10);
        configure(&mut feed);
        config.revocations = Some(feed);
        Guard::new(config).unwrap()
    }

    /// A guard that calls the feed stale when no answer came for 2 s (polls wait 1 s).
    fn quick_to_stale(&self, configure: impl FnOnce(&mut RevocationFeedConfig)) -> Guard {
        self.guard(|feed| {
            feed.poll_wait = Duration::from_secs(1);
            feed.staleness_margin = Duration::from_secs(1);
            configure(feed);
        })
    }

    fn token(&self, jti: &str, sub: &str, iat: i64, staff: Staff) -> String {
        let claims = AccessClaims {
            iss: format!("{}/oauth2", self.base),
            aud: AUDIENCE.into(),
            exp: now() + 3600,
            iat,
            jti: jti.into(),
            sub: sub.into(),
            preferred_username: sub.into(),
            scopes: vec!["read".into(), "profile".into()],
            filters: vec![],
            is_restricted: false,
            email_verified: true,
            grant_type: "password".into(),
            version: JWT_VERSION.into(),
            client_id: "mobile".into(),
            user_id: None,
            email: None,
            name: None,
            given_name: None,
            family_name: None,
            administrator: Some(staff == Staff::Administrator),
            superuser: Some(staff == Staff::Superuser),
            token_use: None,
        };
        self.key.sign(&claims).unwrap()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Staff {
    No,
    Administrator,
    Superuser,
}

#[allow(clippy::disallowed_methods)]
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// What the guard makes of a request with `token` in the `Authorization` header.
async fn check(guard: &Guard, token: &str) -> Result<(), Rejection> {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("JWT {token}")).unwrap(),
    );
    let found = guard.authenticate(&Method::GET, &headers).await?;
    assert!(found.is_some());
    Ok(())
}

fn is_revoked(result: &Result<(), Rejection>) -> bool {
    matches!(result, Err(r) if r.kind() == &RejectionKind::InvalidToken(InvalidToken::Revoked))
}

fn is_unavailable(result: &Result<(), Rejection>) -> bool {
    matches!(result, Err(r) if r.kind() == &RejectionKind::Unavailable)
}

/// Waits until `done` holds, at most [`BOUND`].
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + BOUND;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not {what} after {BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_full_read_then_what_follows() {
    let world = World::new().await;
    world.feed.revoke("early", now() + 3600);
    let guard = world.guard(|_| {});
    guard.warm().await.unwrap();
    let stats = guard.stats();
    assert_eq!(stats.revocation_cursor, Some(1));
    assert!(stats.revocation_feed_age.is_some());

    let early = world.token("early", "alice", now(), Staff::No);
    let refused = check(&guard, &early).await;
    assert!(is_revoked(&refused), "{refused:?}");
    // The wire: RFC 6750 invalid_token, in the guard's usual shape.
    let response = refused.unwrap_err().into_response();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\", error_description=\"token revoked\""
    );

    let later = world.token("later", "alice", now(), Staff::No);
    check(&guard, &later).await.unwrap();
    world.feed.revoke("later", now() + 3600);
    eventually("refusing the token revoked later", || async {
        is_revoked(&check(&guard, &later).await)
    })
    .await;
    let stats = guard.stats();
    assert_eq!(stats.revocation_cursor, Some(2));
    assert!(stats.revocation_polls >= 2, "{stats:?}");
    assert!(stats.revoked_refusals >= 2, "{stats:?}");
    assert_eq!(stats.revocation_poll_failures, 0);
    // Another token of the same user is not touched by a jti.
    let other = world.token("other", "alice", now(), Staff::No);
    check(&guard, &other).await.unwrap();
}

#[tokio::test]
async fn a_users_instant_refuses_their_older_tokens_only() {
    let world = World::new().await;
    let guard = world.guard(|_| {});
    guard.warm().await.unwrap();
    let now = now();
    let older = world.token("j1", "alice", now - 10, Staff::No);
    let bobs = world.token("j2", "bob", now - 10, Staff::No);
    check(&guard, &older).await.unwrap();

    world.feed.cut_off("alice", now - 5);
    eventually("refusing alice's older token", || async {
        is_revoked(&check(&guard, &older).await)
    })
    .await;
    let newer = world.token("j3", "alice", now - 5, Staff::No);
    check(&guard, &newer).await.unwrap();
    check(&guard, &bobs).await.unwrap();
}

#[tokio::test]
async fn a_token_cached_as_valid_is_refused_once_revoked() {
    let world = World::new().await;
    let guard = world.guard(|_| {});
    guard.warm().await.unwrap();
    let token = world.token("cached", "alice", now(), Staff::No);
    check(&guard, &token).await.unwrap();
    check(&guard, &token).await.unwrap();
    assert_eq!(
        (guard.stats().verifications, guard.stats().cache_hits),
        (1, 1)
    );

    world.feed.revoke("cached", now() + 3600);
    eventually("refusing the cached token", || async {
        is_revoked(&check(&guard, &token).await)
    })
    .await;
    assert_eq!(
        guard.stats().verifications,
        1,
        "refused from the cache entry"
    );
}

#[tokio::test]
async fn pages_are_read_until_no_more() {
    let world = World::paged(2).await;
    let exp = now() + 3600;
    for i in 0..5 {
        world.feed.revoke(&format!("first-{i}"), exp);
    }
    let guard = world.guard(|_| {});
    // The first read is three pages; the guard is warm once it has them all.
    guard.warm().await.unwrap();
    assert_eq!(guard.stats().revocation_cursor, Some(5));
    assert_eq!(guard.stats().revocation_polls, 3);
    for i in 0..5 {
        let token = world.token(&format!("first-{i}"), "alice", now(), Staff::No);
        assert!(is_revoked(&check(&guard, &token).await), "first-{i}");
    }

    world.feed.add((0..5).map(|i| {
        Entry::Jti(RevokedJti {
            jti: format!("then-{i}"),
            exp,
        })
    }));
    eventually("caught up with the second batch", || async {
        guard.stats().revocation_cursor == Some(10)
    })
    .await;
    for i in 0..5 {
        let token = world.token(&format!("then-{i}"), "alice", now(), Staff::No);
        assert!(is_revoked(&check(&guard, &token).await), "then-{i}");
    }
}

#[tokio::test]
async fn a_stale_feed_refuses_staff_tokens_and_passes_the_others_until_it_returns() {
    let world = World::new().await;
    world.feed.revoke("revoked", now() + 3600);
    let guard = world.quick_to_stale(|_| {});
    guard.warm().await.unwrap();
    let admin = world.token("a", "admin", now(), Staff::Administrator);
    let root = world.token("r", "root", now(), Staff::Superuser);
    let plain = world.token("p", "alice", now(), Staff::No);
    let revoked = world.token("revoked", "alice", now(), Staff::No);
    check(&guard, &admin).await.unwrap();

    world.feed.set_down(true);
    eventually("refusing the staff token", || async {
        is_unavailable(&check(&guard, &admin).await)
    })
    .await;
    let refused = check(&guard, &root).await;
    assert!(is_unavailable(&refused), "{refused:?}");
    let response = refused.unwrap_err().into_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key(RETRY_AFTER));
    let passes = guard.stats().stale_passes;
    check(&guard, &plain).await.unwrap();
    assert_eq!(guard.stats().stale_passes, passes + 1);
    // What the guard knew before the outage still holds.
    assert!(is_revoked(&check(&guard, &revoked).await));
    let stats = guard.stats();
    assert!(stats.stale_refusals >= 2, "{stats:?}");
    assert!(stats.revocation_poll_failures >= 1, "{stats:?}");

    world.feed.set_down(false);
    eventually("accepting the staff token again", || async {
        check(&guard, &admin).await.is_ok()
    })
    .await;
    let passes = guard.stats().stale_passes;
    check(&guard, &plain).await.unwrap();
    assert_eq!(guard.stats().stale_passes, passes, "the feed is current");
}

#[tokio::test]
async fn the_fail_modes_are_configurable() {
    let world = World::new().await;
    let guard = world.quick_to_stale(|feed| {
        feed.when_stale.staff = FailMode::Open;
        feed.when_stale.others = FailMode::Closed;
    });
    guard.warm().await.unwrap();
    let admin = world.token("a", "admin", now(), Staff::Administrator);
    let plain = world.token("p", "alice", now(), Staff::No);

    world.feed.set_down(true);
    eventually("refusing the plain token", || async {
        is_unavailable(&check(&guard, &plain).await)
    })
    .await;
    check(&guard, &admin).await.unwrap();
    assert!(guard.stats().stale_passes >= 1);
}

#[tokio::test]
async fn refused_credentials_count_as_failures_and_leave_the_feed_stale() {
    let world = World::new().await;
    for (id, secret) in [(CLIENT.0, "not-the-secret"), UNPERMITTED] {
        let mut config = RevocationFeedConfig::new(id, secret);
        config.poll_wait = Duration::from_secs(1);
        let guard = world.guard(|feed| *feed = config);
        assert!(guard.warm().await.is_err(), "{id}");
        let stats = guard.stats();
        assert_eq!(stats.revocation_polls, 0);
        assert!(stats.revocation_poll_failures >= 1, "{stats:?}");
        assert_eq!(
            (stats.revocation_cursor, stats.revocation_feed_age),
            (None, None)
        );
        // Never read: the default fail modes apply.
        let admin = world.token("a", "admin", now(), Staff::Administrator);
        assert!(is_unavailable(&check(&guard, &admin).await));
        let plain = world.token("p", "alice", now(), Staff::No);
        check(&guard, &plain).await.unwrap();
        let shown = format!("{guard:?}");
        assert!(shown.contains(id) && !shown.contains(secret), "{shown}");
    }
}

#[tokio::test]
async fn a_dropped_guard_stops_following() {
    let world = World::new().await;
    let guard = world.quick_to_stale(|_| {});
    guard.warm().await.unwrap();
    eventually("a quiet poll answered", || async {
        guard.stats().revocation_polls >= 2
    })
    .await;
    drop(guard);
    // The aborted poll may still have reached the feed; none may follow it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let polls = world.feed.polls();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(world.feed.polls(), polls);
    assert_eq!(world.feed.head(), 0);
}
