//! The revocation feed (`GET /oauth2/revocations`) over real HTTP on both backends, and change
//! notices between two nodes on one PostgreSQL database.
//!
//! Nothing is timed tightly: a poll that should answer early is given 30 s against a 60 s wait,
//! and a change that a notice should bring is awaited against caches whose time limits are an hour,
//! so only a change that no notice brought fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use latchkey_core::authz::rule::RoleAssignment;
use latchkey_core::store::Store;
use latchkey_server::clock::now;
use latchkey_server::services::ServiceSettings;
use latchkey_testkit::{on_both_backends, test_settings, TestServer};
use serde_json::Value;

const EARLY: Duration = Duration::from_secs(30);

/// alice with a public password client, an introspecting client and a feed reader.
struct Fixture {
    mobile: String,
    introspector: (String, String),
    reader: (String, String),
    http: reqwest::Client,
}

impl Fixture {
    async fn new(server: &TestServer<impl Store>) -> Fixture {
        server.user("alice", "alice-pw").await;
        server.user("ops", "ops-pw").await;
        Fixture {
            mobile: server.public("mobile", "alice", "password").await,
            introspector: server
                .confidential_with("gateway", "ops", "client-credentials", &["introspect"])
                .await,
            reader: server
                .confidential_with(
                    "resource",
                    "ops",
                    "client-credentials",
                    &["revocations:read"],
                )
                .await,
            http: reqwest::Client::new(),
        }
    }

    /// alice's tokens from the password grant.
    async fn sign_in(&self, server: &TestServer<impl Store>, jwt: bool) -> Value {
        let mut form = vec![
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-pw"),
            ("client_id", self.mobile.as_str()),
        ];
        if jwt {
            form.push(("token_type", "jwt"));
        }
        let r = self
            .http
            .post(server.url("/oauth2/access_token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn revoke(&self, server: &TestServer<impl Store>, token: &str) {
        let r = self
            .http
            .post(server.url("/oauth2/revoke_token"))
            .form(&[("token", token), ("client_id", self.mobile.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    async fn active(&self, server: &TestServer<impl Store>, token: &str) -> bool {
        let (id, secret) = &self.introspector;
        let r = self
            .http
            .post(server.url("/oauth2/introspect"))
            .basic_auth(id, Some(secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["active"] == true
    }

    /// One poll; the status and the body.
    async fn poll(
        &self,
        server: &TestServer<impl Store>,
        query: &[(&str, String)],
        who: Option<&(String, String)>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .get(server.url("/oauth2/revocations"))
            .query(query);
        if let Some((id, secret)) = who {
            request = request.basic_auth(id, Some(secret));
        }
        let r = request.send().await.unwrap();
        let status = r.status().as_u16();
        if status == 200 {
            assert_eq!(r.headers()["cache-control"], "no-store");
        }
        (status, r.json().await.unwrap())
    }

    async fn read(&self, server: &TestServer<impl Store>, after: Option<i64>, wait: u64) -> Value {
        let mut query = vec![("wait", wait.to_string())];
        if let Some(after) = after {
            query.push(("after", after.to_string()));
        }
        let (status, body) = self.poll(server, &query, Some(&self.reader)).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

fn jti_of(jwt: &str) -> String {
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["jti"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn jtis(body: &Value) -> Vec<String> {
    body["jtis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["jti"].as_str().unwrap().to_owned())
        .collect()
}

async fn only_a_reader_may_read(server: TestServer<impl Store>) {
    let f = Fixture::new(&server).await;
    let (status, body) = f.poll(&server, &[], None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    let (status, body) = f.poll(&server, &[], Some(&f.introspector)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "unauthorized_client");
    let bad = [("after", "yesterday".to_owned())];
    let (status, body) = f.poll(&server, &bad, Some(&f.reader)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
}

async fn a_revoked_jwt_reaches_a_waiting_poll(server: TestServer<impl Store>) {
    let f = Fixture::new(&server).await;
    let first = f.sign_in(&server, true).await;
    let first_jwt = first["access_token"].as_str().unwrap();
    f.revoke(&server, first_jwt).await;
    let full = f.read(&server, None, 0).await;
    assert_eq!(full["full"], true);
    assert_eq!(jtis(&full), [jti_of(first_jwt)]);
    assert!(full["jtis"][0]["exp"].as_i64().unwrap() > now());

    let cursor = full["cursor"].as_i64().unwrap();
    let second = f.sign_in(&server, true).await;
    let second_jwt = second["access_token"].as_str().unwrap().to_owned();
    let waiting = f.read(&server, Some(cursor), 60);
    let revoking = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        f.revoke(&server, &second_jwt).await;
    };
    let (answer, ()) = tokio::time::timeout(EARLY, async { tokio::join!(waiting, revoking) })
        .await
        .expect("the poll answered when the token was revoked");
    assert_eq!(answer["full"], false);
    assert_eq!(jtis(&answer), [jti_of(&second_jwt)]);
    assert!(answer["cursor"].as_i64().unwrap() > cursor);

    // A quiet poll ends with the same cursor; a cursor this database never gave starts over.
    let after = answer["cursor"].as_i64().unwrap();
    let quiet = f.read(&server, Some(after), 1).await;
    assert_eq!(quiet["cursor"].as_i64().unwrap(), after);
    assert!(jtis(&quiet).is_empty());
    let reset = f.read(&server, Some(after + 1000), 0).await;
    assert_eq!(reset["full"], true);
    assert_eq!(jtis(&reset).len(), 2);
}

async fn logging_out_everywhere_refuses_older_tokens(server: TestServer<impl Store>) {
    let f = Fixture::new(&server).await;
    let before = f.sign_in(&server, true).await;
    let old_jwt = before["access_token"].as_str().unwrap();
    let opaque = f.sign_in(&server, false).await;
    let opaque_token = opaque["access_token"].as_str().unwrap();
    assert!(f.active(&server, old_jwt).await);
    assert!(f.active(&server, opaque_token).await);
    let cursor = f.read(&server, None, 0).await["cursor"].as_i64().unwrap();

    // Signed in within the same second as the cut-off, most likely: refused all the same.
    let at = now();
    server.admin.logout_everywhere("alice", at).await.unwrap();
    let answer = f.read(&server, Some(cursor), 0).await;
    let alice = server.store.user_by_login("alice").await.unwrap().unwrap();
    assert_eq!(answer["users"][0]["sub"], alice.sub.as_str());
    assert_eq!(answer["users"][0]["not_before"], at + 1, "the second after");
    assert!(!f.active(&server, old_jwt).await, "the JWT from before");
    assert!(
        !f.active(&server, opaque_token).await,
        "the opaque token from before"
    );
    let refresh = before["refresh_token"].as_str().unwrap();
    let r = f
        .http
        .post(server.url("/oauth2/access_token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", f.mobile.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the refresh token from before");

    // A token of the cut-off's own second is refused (`iat` counts whole seconds): a new one
    // from the next second on is good.
    while now() <= at {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = f.sign_in(&server, true).await;
    assert!(
        f.active(&server, after["access_token"].as_str().unwrap())
            .await,
        "signing in again works"
    );
}

on_both_backends!(
    only_a_reader_may_read,
    a_revoked_jwt_reaches_a_waiting_poll,
    logging_out_everywhere_refuses_older_tokens,
);

/// Caches that would hold a stale answer for an hour without a notice.
fn long_caches() -> ServiceSettings {
    let mut settings = test_settings();
    settings.tokens.client_cache_ttl = Duration::from_secs(3600);
    settings.tokens.introspection_cache_ttl = Duration::from_secs(3600);
    settings
}

/// Waits until `done` holds, for at most 20 s (far below the hour the caches would keep a stale
/// answer); how long it took.
async fn within<F, Fut>(what: &str, mut done: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: no notice came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

/// Node B's changes reach node A's caches by notice, long before their time limits, with no
/// janitor running.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_notices_bring_another_nodes_changes() {
    let a = TestServer::postgres_with(long_caches()).await;
    let b = a.another_node().await;
    let f = Fixture::new(&a).await;

    // An introspection answer cached on A, then the token revoked on B.
    let opaque = f.sign_in(&a, false).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(f.active(&a, &opaque).await);
    f.revoke(&b, &opaque).await;
    let took = within("a revocation", || async { !f.active(&a, &opaque).await }).await;
    eprintln!("a revocation on B reached A's introspection cache after {took:?}");

    // A client_credentials client's owner, cached on A, disabled on B.
    a.user("robot", "robot-pw").await;
    let (id, secret) = a.confidential("etl", "robot", "client-credentials").await;
    let grant = |server: &TestServer<_>| {
        let request = f
            .http
            .post(server.url("/oauth2/access_token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")]);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(grant(&a).await, 200);
    b.admin.set_disabled("robot", true, now()).await.unwrap();
    within("a disabled owner", || async { grant(&a).await != 200 }).await;

    // A key rotation on B (which B applies at once): A signs with the new key.
    b.rotate_keys(latchkey_token::Algorithm::EdDSA).await;
    let rotated = b.tokens.keys().signer().kid().to_owned();
    within("a key rotation", || async {
        a.tokens.keys().signer().kid() == rotated
    })
    .await;

    // A role assigned on B: A's engine decides with it.
    let assignment =
        RoleAssignment::new("user^alice", "role^library_author", "lib^lib:MITx:physics").unwrap();
    let check = || {
        a.authz
            .check(
                "user^alice",
                "act^content_libraries.view_library",
                "lib^lib:MITx:physics",
            )
            .unwrap()
            .is_allowed()
    };
    assert!(!check());
    b.authz.assign(&assignment, "test", now()).await.unwrap();
    within("a role assignment", || async { check() }).await;

    // A poll waiting on A answers when B revokes a JWT.
    let cursor = f.read(&a, None, 0).await["cursor"].as_i64().unwrap();
    let jwt = f.sign_in(&b, true).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let waiting = f.read(&a, Some(cursor), 60);
    let revoking = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        f.revoke(&b, &jwt).await;
    };
    let (answer, ()) = tokio::time::timeout(EARLY, async { tokio::join!(waiting, revoking) })
        .await
        .expect("A's poll answered when B revoked");
    assert_eq!(jtis(&answer), [jti_of(&jwt)]);
}
