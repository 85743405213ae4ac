//! The guard following a real Latchkey server's revocation feed (`latchkey-testkit`), on SQLite
//! and on PostgreSQL: what the server takes back, the guard refuses within the feed's latency.
//!
//! Waits for a change are polls with a generous bound, never timed assertions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, Method};
use latchkey_core::store::Store;
use latchkey_core::user::User;
use latchkey_guard::{
    Guard, GuardConfig, InvalidToken, Rejection, RejectionKind, RevocationFeedConfig,
};
use latchkey_server::clock::now;
use latchkey_testkit::TestServer;
use reqwest::StatusCode;
use serde_json::Value;

/// How long a change may take to reach the guard before a test fails: far above the feed's
/// latency (milliseconds: a waiting poll is woken by the change).
const BOUND: Duration = Duration::from_secs(20);

/// A user `alice`, a public password client `mobile`, and a guard following the server's feed
/// with a confidential client granted `revocations:read`.
struct World<S: Store> {
    server: TestServer<S>,
    alice: User,
    mobile: String,
    guard: Guard,
    http: reqwest::Client,
}

impl<S: Store> World<S> {
    async fn new(server: TestServer<S>) -> Self {
        let alice = server.user("alice", "alice-password").await;
        let mobile = server.public("mobile", "alice", "password").await;
        let (id, secret) = server
            .confidential_with(
                "resource-server",
                "alice",
                "client-credentials",
                &["revocations:read"],
            )
            .await;
        let mut config =
            GuardConfig::new(server.issuer(), server.tokens.settings().audience.clone());
        let mut feed = RevocationFeedConfig::new(id, secret);
        feed.poll_wait = Duration::from_secs(10);
        config.revocations = Some(feed);
        let guard = Guard::new(config).unwrap();
        guard.warm().await.unwrap();
        World {
            server,
            alice,
            mobile,
            guard,
            http: reqwest::Client::new(),
        }
    }

    /// A JWT for alice from the token endpoint (password grant).
    async fn password_jwt(&self) -> String {
        let response = self
            .http
            .post(self.server.url("/oauth2/access_token"))
            .form(&[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-password"),
                ("client_id", self.mobile.as_str()),
                ("token_type", "jwt"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A JWT for alice minted by the server as if issued at `iat`.
    fn minted(&self, iat: i64) -> String {
        self.server
            .tokens
            .mint_service_jwt(&self.alice, None, None, 3600, iat)
            .unwrap()
    }

    async fn check(&self, token: &str) -> Result<(), Rejection> {
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("JWT {token}")).unwrap(),
        );
        let found = self.guard.authenticate(&Method::GET, &headers).await?;
        assert!(found.is_some());
        Ok(())
    }

    /// Checks `token` until the guard refuses it as revoked, at most [`BOUND`].
    async fn until_revoked(&self, token: &str) {
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            match self.check(token).await {
                Err(r) if r.kind() == &RejectionKind::InvalidToken(InvalidToken::Revoked) => return,
                other => assert!(
                    tokio::time::Instant::now() < deadline,
                    "still {other:?} after {BOUND:?}: {:?}",
                    self.guard.stats()
                ),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn a_jwt_revoked_at_the_server_is_refused(server: TestServer<impl Store>) {
    let world = World::new(server).await;
    let token = world.password_jwt().await;
    let other = world.password_jwt().await;
    world.check(&token).await.unwrap();

    // RFC 7009, by the client the token was issued to.
    let response = world
        .http
        .post(world.server.url("/oauth2/revoke_token"))
        .form(&[
            ("token", token.as_str()),
            ("client_id", world.mobile.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    world.until_revoked(&token).await;
    world.check(&other).await.unwrap();
    let stats = world.guard.stats();
    assert_eq!(stats.revocation_poll_failures, 0, "{stats:?}");
    assert_eq!(stats.stale_refusals + stats.stale_passes, 0, "{stats:?}");
}

async fn a_disabled_users_older_tokens_are_refused(server: TestServer<impl Store>) {
    let world = World::new(server).await;
    let now = now();
    let older = world.minted(now - 10);
    world.check(&older).await.unwrap();

    world
        .server
        .admin
        .set_disabled("alice", true, now)
        .await
        .unwrap();
    world.until_revoked(&older).await;

    // Enabled again, alice's new tokens are good; the old one stays refused. The cut-off
    // refuses every token of its own second (`iat` counts whole seconds): new ones come after.
    world
        .server
        .admin
        .set_disabled("alice", false, now)
        .await
        .unwrap();
    while latchkey_server::clock::now() <= now {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let newer = world.password_jwt().await;
    world.check(&newer).await.unwrap();
    world.until_revoked(&older).await;
}

latchkey_testkit::on_both_backends!(
    a_jwt_revoked_at_the_server_is_refused,
    a_disabled_users_older_tokens_are_refused,
);
