//! The example service (`examples/protected.rs`), protected by the guard, against a real Latchkey
//! server started by `latchkey-testkit`: every way in, and every way to be refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../examples/protected.rs"]
#[allow(dead_code)]
mod protected;

use std::time::Duration;

use latchkey_core::admin::{ClientSpec, UserSpec};
use latchkey_core::secret::Secret;
use latchkey_guard::{
    Algorithm, Guard, GuardConfig, IntrospectionConfig, KeySource, RejectionStyle,
};
use latchkey_store::SqliteStore;
use latchkey_testkit::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::Value;

type Server = TestServer<SqliteStore>;

/// A Latchkey server with a verified user `alice` and a public password client `mobile`.
struct World {
    server: Server,
    alice: latchkey_core::user::User,
    mobile: String,
    http: reqwest::Client,
}

impl World {
    async fn new() -> World {
        let server = TestServer::sqlite().await;
        let alice = server.user("alice", "alice-password").await;
        let mobile = server.public("mobile", "alice", "password").await;
        World {
            server,
            alice,
            mobile,
            http: reqwest::Client::new(),
        }
    }

    /// The guard as a real resource server would configure it: discovery, audience `latchkey`.
    fn config(&self) -> GuardConfig {
        let mut config = GuardConfig::new(
            self.server.issuer(),
            self.server.tokens.settings().audience.clone(),
        );
        config.leeway = Duration::ZERO;
        config
    }

    async fn token(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> String {
        let mut request = self
            .http
            .post(self.server.url("/oauth2/access_token"))
            .form(form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A password-grant token for `username`; a JWT unless `opaque`.
    async fn password_token(&self, username: &str, password: &str, opaque: bool) -> String {
        let mut form = vec![
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
            ("client_id", self.mobile.as_str()),
        ];
        if !opaque {
            form.push(("token_type", "jwt"));
        }
        self.token(&form, None).await
    }

    async fn alice_jwt(&self) -> String {
        self.password_token("alice", "alice-password", false).await
    }

    /// A service JWT for alice, minted by the server itself with the given audience and clock.
    async fn minted(&self, audience: Option<&str>, lifetime: i64, now: i64) -> String {
        self.server
            .tokens
            .mint_service_jwt(&self.alice, None, audience.map(Into::into), lifetime, now)
            .unwrap()
    }
}

/// The example's router, served on a random loopback port; returns its base URL.
async fn serve(guard: &Guard) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = protected::app(guard);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// What a client sees.
struct Seen {
    status: StatusCode,
    challenge: Option<String>,
    deprecation: Option<String>,
    body: Value,
}

async fn call(
    http: &reqwest::Client,
    method: Method,
    url: String,
    headers: &[(&str, String)],
) -> Seen {
    let mut request = http.request(method, url);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, challenge, deprecation) = (
        response.status(),
        header("www-authenticate"),
        header("deprecation"),
    );
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Seen {
        status,
        challenge,
        deprecation,
        body,
    }
}

async fn get(http: &reqwest::Client, url: String, headers: &[(&str, String)]) -> Seen {
    call(http, Method::GET, url, headers).await
}

fn jwt(token: &str) -> [(&'static str, String); 1] {
    [("authorization", format!("JWT {token}"))]
}

fn bearer(token: &str) -> [(&'static str, String); 1] {
    [("authorization", format!("Bearer {token}"))]
}

fn assert_invalid_token(seen: &Seen, description: &str) {
    assert_eq!(seen.status, StatusCode::UNAUTHORIZED, "{}", seen.body);
    assert_eq!(
        seen.challenge.as_deref(),
        Some(
            format!("Bearer error=\"invalid_token\", error_description=\"{description}\"").as_str()
        )
    );
    assert_eq!(seen.body["error"], "invalid_token");
}

#[tokio::test]
async fn jwt_in_the_authorization_header_with_either_scheme() {
    let world = World::new().await;
    let guard = Guard::new(world.config()).unwrap();
    let app = serve(&guard).await;
    let token = world.alice_jwt().await;

    for (headers, source) in [
        (jwt(&token), "AuthorizationJwt"),
        (bearer(&token), "AuthorizationBearer"),
    ] {
        let seen = get(&world.http, format!("{app}/profile"), &headers).await;
        assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
        assert_eq!(seen.body["username"], "alice");
        assert_eq!(seen.body["source"], source);
        assert_eq!(seen.body["client_id"], world.mobile.as_str());
        assert_eq!(seen.deprecation, None);
    }
    // The signature was checked once; the second request was a cache hit.
    let stats = guard.stats();
    assert_eq!((stats.verifications, stats.cache_hits), (1, 1));
    assert_eq!(stats.jwks_fetches, 1);

    let seen = get(&world.http, format!("{app}/profile"), &[]).await;
    assert_eq!(seen.status, StatusCode::UNAUTHORIZED);
    assert_eq!(seen.challenge.as_deref(), Some("Bearer"));

    // Option<Authenticated>: none is fine, a bad one is not.
    let seen = get(&world.http, format!("{app}/public"), &[]).await;
    assert_eq!(seen.body, "hello, anonymous");
    let seen = get(&world.http, format!("{app}/public"), &jwt(&token)).await;
    assert_eq!(seen.body, "hello, alice");
    let seen = get(&world.http, format!("{app}/public"), &jwt("a.b.c")).await;
    assert_eq!(seen.status, StatusCode::UNAUTHORIZED);

    // RFC 6750 §3.1: a malformed header is invalid_request.
    let seen = get(
        &world.http,
        format!("{app}/profile"),
        &[("authorization", "Bearer".into())],
    )
    .await;
    assert_eq!(seen.status, StatusCode::BAD_REQUEST);
    assert_eq!(seen.body["error"], "invalid_request");
}

#[tokio::test]
async fn cookie_pair_is_reassembled_and_unsafe_methods_need_csrf() {
    let world = World::new().await;
    let guard = Guard::new(world.config()).unwrap();
    let app = serve(&guard).await;
    let token = world.alice_jwt().await;
    let (header_payload, signature) = token.rsplit_once('.').unwrap();
    let cookies = |csrf: &str| {
        format!(
            "edx-jwt-cookie-header-payload={header_payload}; edx-jwt-cookie-signature={signature}; csrftoken={csrf}"
        )
    };

    let seen = get(
        &world.http,
        format!("{app}/profile"),
        &[("cookie", cookies("k"))],
    )
    .await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(seen.body["source"], "Cookies");

    let post = |headers: Vec<(&'static str, String)>| {
        let http = world.http.clone();
        let url = format!("{app}/notes");
        async move { call(&http, Method::POST, url, &headers).await }
    };
    let secret = "Zq9VvLhB2c1Mn8XkTQeYw3RdpJ4sGfA7";
    let seen = post(vec![("cookie", cookies(secret))]).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
    assert_eq!(
        seen.body["error_description"],
        "CSRF Failed: CSRF token missing."
    );
    let seen = post(vec![
        ("cookie", cookies(secret)),
        ("x-csrftoken", "Zq9VvLhB2c1Mn8XkTQeYw3RdpJ4sGfA8".into()),
    ])
    .await;
    assert_eq!(
        seen.body["error_description"],
        "CSRF Failed: CSRF token incorrect."
    );
    let seen = post(vec![
        ("cookie", cookies(secret)),
        ("x-csrftoken", secret.into()),
    ])
    .await;
    assert_eq!(seen.status, StatusCode::CREATED, "{}", seen.body);
    assert_eq!(seen.body["saved_for"], "alice");
    // The Authorization header is not ambient: no CSRF check.
    let seen = post(jwt(&token).to_vec()).await;
    assert_eq!(seen.status, StatusCode::CREATED);

    // A tampered cookie pair is refused like a tampered header.
    let bad = format!(
        "edx-jwt-cookie-header-payload={header_payload}; edx-jwt-cookie-signature={}",
        flip_middle(signature)
    );
    let seen = get(&world.http, format!("{app}/profile"), &[("cookie", bad)]).await;
    assert_invalid_token(&seen, "the token signature is invalid");
}

#[tokio::test]
async fn opaque_token_by_introspection_with_deprecation_header() {
    let world = World::new().await;
    let (guard_id, guard_secret) = world
        .server
        .confidential_with(
            "resource-server",
            "alice",
            "client-credentials",
            &["introspect"],
        )
        .await;
    let mut config = world.config();
    config.introspection = Some(IntrospectionConfig::new(guard_id, guard_secret));
    let guard = Guard::new(config).unwrap();
    let app = serve(&guard).await;
    let opaque = world.password_token("alice", "alice-password", true).await;
    assert!(!opaque.contains('.'));

    for _ in 0..2 {
        let seen = get(&world.http, format!("{app}/whoami"), &bearer(&opaque)).await;
        assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
        assert_eq!(seen.body["username"], "alice");
        assert_eq!(seen.body["source"], "OpaqueBearer");
        assert_eq!(seen.deprecation.as_deref(), Some("@1767225600"));
    }
    let stats = guard.stats();
    assert_eq!(stats.deprecated_opaque_uses, 2);
    assert_eq!(
        stats.introspections, 1,
        "the second use is answered from the cache"
    );

    // Introspection says the email is verified (an RFC 7662 extension member Latchkey adds), so
    // strict routes accept the opaque token as they would the user's JWT.
    let seen = get(&world.http, format!("{app}/profile"), &bearer(&opaque)).await;
    assert_eq!(seen.status, StatusCode::OK);

    let seen = get(
        &world.http,
        format!("{app}/whoami"),
        &bearer("not-a-token-we-issued"),
    )
    .await;
    assert_invalid_token(&seen, "the token is not active");
    assert_eq!(seen.deprecation, None);

    // Without introspection configured, opaque tokens are refused.
    let plain = serve(&Guard::new(world.config()).unwrap()).await;
    let seen = get(&world.http, format!("{plain}/whoami"), &bearer(&opaque)).await;
    assert_invalid_token(&seen, "opaque tokens are not accepted");
}

#[tokio::test]
async fn expired_token_in_both_rejection_styles() {
    let world = World::new().await;
    let now = now();
    let expired = world.minted(None, 60, now - 3600).await;
    let app = serve(&Guard::new(world.config()).unwrap()).await;
    let seen = get(&world.http, format!("{app}/whoami"), &jwt(&expired)).await;
    assert_invalid_token(&seen, "the token has expired");

    let mut config = world.config();
    config.rejection_style = RejectionStyle::OpenEdx;
    let edx = serve(&Guard::new(config).unwrap()).await;
    let seen = get(&world.http, format!("{edx}/whoami"), &jwt(&expired)).await;
    assert_eq!(seen.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        seen.body,
        serde_json::json!({"detail": "Token has expired."})
    );
    assert!(seen.challenge.unwrap().contains("invalid_token"));
    let seen = get(&world.http, format!("{edx}/whoami"), &[]).await;
    assert_eq!(
        seen.body,
        serde_json::json!({"detail": "Authentication credentials were not provided."})
    );

    // A token minted now, for the same user, passes: it is the expiry that was refused.
    let fresh = world.minted(None, 60, now).await;
    let seen = get(&world.http, format!("{app}/whoami"), &jwt(&fresh)).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
}

#[tokio::test]
async fn wrong_audience() {
    let world = World::new().await;
    let app = serve(&Guard::new(world.config()).unwrap()).await;
    let token = world.minted(Some("another-service"), 60, now()).await;
    let seen = get(&world.http, format!("{app}/whoami"), &jwt(&token)).await;
    assert_invalid_token(&seen, "the token audience is not accepted");
}

#[tokio::test]
async fn wrong_issuer() {
    let world = World::new().await;
    // The keys are the server's, but this guard trusts another issuer name.
    let mut config = GuardConfig::new(
        world.server.url("/another-issuer"),
        world.server.tokens.settings().audience.clone(),
    );
    config.keys = KeySource::JwksUri(world.server.url("/oauth2/jwks.json"));
    let app = serve(&Guard::new(config).unwrap()).await;
    let token = world.alice_jwt().await;
    let seen = get(&world.http, format!("{app}/whoami"), &jwt(&token)).await;
    assert_invalid_token(&seen, "the token issuer is not accepted");
}

/// One base64url character in the middle of `part` changed to another.
fn flip_middle(part: &str) -> String {
    let mut bytes = part.as_bytes().to_vec();
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn tampered_signature_and_payload() {
    let world = World::new().await;
    let mut config = world.config();
    config.rejection_style = RejectionStyle::OpenEdx;
    let edx = serve(&Guard::new(config).unwrap()).await;
    let app = serve(&Guard::new(world.config()).unwrap()).await;
    let token = world.alice_jwt().await;
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let tampered = format!("{signing_input}.{}", flip_middle(signature));
    let seen = get(&world.http, format!("{app}/whoami"), &jwt(&tampered)).await;
    assert_invalid_token(&seen, "the token signature is invalid");
    let seen = get(&world.http, format!("{edx}/whoami"), &jwt(&tampered)).await;
    assert_eq!(
        seen.body,
        serde_json::json!({"detail": "Error decoding token."})
    );

    let (header, payload) = signing_input.split_once('.').unwrap();
    let forged = format!("{header}.{}.{signature}", flip_middle(payload));
    let seen = get(&world.http, format!("{app}/whoami"), &jwt(&forged)).await;
    assert_eq!(seen.status, StatusCode::UNAUTHORIZED);

    // The genuine token still passes: nothing was cached for the forgeries.
    let seen = get(&world.http, format!("{app}/whoami"), &jwt(&token)).await;
    assert_eq!(seen.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_kid_after_key_rotation_refetches_once_per_interval() {
    let world = World::new().await;
    let mut eager = world.config();
    eager.jwks_refetch_interval = Duration::ZERO;
    let eager = Guard::new(eager).unwrap();
    let mut patient = world.config();
    patient.jwks_refetch_interval = Duration::from_secs(3600);
    let patient = Guard::new(patient).unwrap();
    let (eager_app, patient_app) = (serve(&eager).await, serve(&patient).await);

    let before = world.alice_jwt().await;
    for app in [&eager_app, &patient_app] {
        let seen = get(&world.http, format!("{app}/profile"), &jwt(&before)).await;
        assert_eq!(seen.status, StatusCode::OK);
    }
    assert_eq!(eager.stats().jwks_fetches, 1);

    world.server.rotate_keys(Algorithm::ES256).await;
    let after = world.alice_jwt().await;
    let kid = |t: &str| latchkey_guard::fuzzing::parse_compact(t.as_bytes()).unwrap();
    let (old, new) = (kid(&before), kid(&after));
    assert_ne!(old.kid, new.kid);
    assert_eq!(new.alg, "ES256");

    let seen = get(&world.http, format!("{eager_app}/profile"), &jwt(&after)).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(eager.stats().jwks_fetches, 2, "one refetch for the new kid");
    // The retired key is still published, so older tokens keep working.
    let seen = get(&world.http, format!("{eager_app}/profile"), &jwt(&before)).await;
    assert_eq!(seen.status, StatusCode::OK);

    // Within the refetch interval the new kid is refused without a fetch.
    let seen = get(&world.http, format!("{patient_app}/profile"), &jwt(&after)).await;
    assert_invalid_token(&seen, "the token is signed with an unknown key");
    assert_eq!(patient.stats().jwks_fetches, 1);
}

#[tokio::test]
async fn restricted_client_only_where_the_route_opts_in_with_scope_and_filter() {
    let world = World::new().await;
    let app = serve(&Guard::new(world.config()).unwrap()).await;
    let saved = world
        .server
        .client(ClientSpec {
            name: "partner".into(),
            owner: "alice".into(),
            grant_type: "client-credentials".into(),
            restricted: true,
            scopes: vec!["grades:read".into()],
            filters: vec!["content_org:MITx".into()],
            ..ClientSpec::default()
        })
        .await;
    let id = saved.client.id.clone();
    let secret = saved.secret.unwrap().expose().to_owned();
    let token = world
        .token(
            &[
                ("grant_type", "client_credentials"),
                ("token_type", "jwt"),
                ("scope", "grades:read"),
            ],
            Some((&id, &secret)),
        )
        .await;

    let seen = get(&world.http, format!("{app}/profile"), &jwt(&token)).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
    assert!(seen
        .challenge
        .unwrap()
        .contains("the token's client is restricted"));

    let seen = get(&world.http, format!("{app}/grades/MITx"), &jwt(&token)).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(seen.body["client_id"], id.as_str());

    let seen = get(&world.http, format!("{app}/grades/HarvardX"), &jwt(&token)).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
    assert_eq!(
        seen.body["error_description"],
        "the token has no content_org filter for this resource"
    );
}

#[tokio::test]
async fn missing_scope_and_user_filter() {
    let world = World::new().await;
    let app = serve(&Guard::new(world.config()).unwrap()).await;
    let token = world.alice_jwt().await;
    let seen = get(&world.http, format!("{app}/grades/MITx"), &jwt(&token)).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
    assert_eq!(
        seen.challenge.as_deref(),
        Some(
            "Bearer error=\"insufficient_scope\", error_description=\"the token lacks the scope grades:read\", scope=\"grades:read\""
        )
    );

    // A client with the `user:me` filter may read its own user's resources only.
    let saved = world
        .server
        .client(ClientSpec {
            name: "self-service".into(),
            owner: "alice".into(),
            grant_type: "client-credentials".into(),
            filters: vec!["user:me".into()],
            ..ClientSpec::default()
        })
        .await;
    let secret = saved.secret.unwrap().expose().to_owned();
    let token = world
        .token(
            &[("grant_type", "client_credentials"), ("token_type", "jwt")],
            Some((&saved.client.id, &secret)),
        )
        .await;
    let seen = get(
        &world.http,
        format!("{app}/users/alice/courses"),
        &jwt(&token),
    )
    .await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    let seen = get(
        &world.http,
        format!("{app}/users/bob/courses"),
        &jwt(&token),
    )
    .await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn unverified_user_only_where_the_route_allows() {
    let world = World::new().await;
    world
        .server
        .user_with(UserSpec {
            username: "bob".into(),
            email: "bob@example.org".into(),
            password: Some(Secret::new("bob-password")),
            unverified: true,
            ..UserSpec::default()
        })
        .await;
    let app = serve(&Guard::new(world.config()).unwrap()).await;
    let token = world.password_token("bob", "bob-password", false).await;

    let seen = get(&world.http, format!("{app}/profile"), &jwt(&token)).await;
    assert_eq!(seen.status, StatusCode::FORBIDDEN);
    assert_eq!(
        seen.body["error_description"],
        "the user's email address is not verified"
    );
    let seen = get(&world.http, format!("{app}/whoami"), &jwt(&token)).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(seen.body["email_verified"], false);
}

#[tokio::test]
async fn keys_are_served_from_cache_while_the_issuer_is_down_up_to_the_staleness_limit() {
    let world = World::new().await;
    let now = now();
    let (first, second) = (
        world.minted(None, 600, now).await,
        world.minted(None, 600, now).await,
    );
    assert_ne!(first, second);

    // Refreshes whenever it can, but may use keys up to an hour old.
    let mut tolerant = world.config();
    tolerant.jwks_refresh_after = Duration::ZERO;
    tolerant.jwks_refetch_interval = Duration::ZERO;
    let tolerant = Guard::new(tolerant).unwrap();
    // May not use keys older than its refresh interval of zero.
    let mut strict = world.config();
    strict.jwks_refresh_after = Duration::ZERO;
    strict.jwks_max_staleness = Duration::ZERO;
    strict.jwks_refetch_interval = Duration::ZERO;
    let strict = Guard::new(strict).unwrap();
    tolerant.warm().await.unwrap();
    strict.warm().await.unwrap();
    let (tolerant_app, strict_app) = (serve(&tolerant).await, serve(&strict).await);

    let issuer = world.server.url("/health/live");
    let World { server, http, .. } = world;
    drop(server);
    for _ in 0..100 {
        if http.get(&issuer).send().await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        http.get(&issuer).send().await.is_err(),
        "the issuer is down"
    );

    let seen = get(&http, format!("{tolerant_app}/whoami"), &jwt(&first)).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    let seen = get(&http, format!("{strict_app}/whoami"), &jwt(&second)).await;
    assert_eq!(
        seen.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        seen.body
    );
    assert_eq!(seen.body["error"], "temporarily_unavailable");
}

#[allow(clippy::disallowed_methods)]
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
