//! What the guard costs a request, in process (tower `oneshot` on an axum router, no network):
//!
//! - `request/without_guard`: the handler alone, returning the same JSON;
//! - `request/with_guard_warm/{header,cookies}`: the guard layer and the `Authenticated`
//!   extractor with the verification cache warm (the steady state of a busy service);
//! - `request/with_guard_warm_feed/header`: the same, the guard following a revocation feed
//!   that holds 1 000 revoked `jti`s and 1 000 users' not-before instants (none the token's);
//! - `request/with_guard_cold/{alg}`: the same with the verification cache off, so every request
//!   checks the signature;
//! - `verify/{alg}`: one `latchkey_token::verify` alone (the cold cost of one signature);
//! - `http/{without_guard,with_guard_warm}`: the example handler over loopback HTTP, one request
//!   at a time (requests/s = 1 / time);
//! - `guard/authenticate_warm`, `guard/authenticate_warm_feed`, `guard/parse_authorization`: the
//!   guard's share, without a router, and with the revocation check.
//!
//! `cargo bench -p latchkey-guard --bench guard`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::body::Body;
use axum::extract::Query;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderValue, Request};
use axum::routing::get;
use axum::{Json, Router};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use latchkey_guard::{
    AccessClaims, Algorithm, Authenticated, Guard, GuardConfig, KeySource, RevocationFeedConfig,
};
use latchkey_proto::{NotBefore, Revocations, RevocationsQuery, RevokedJti};
use latchkey_token::{JwkSet, SigningKey, Validation, VerifyingKeys, JWT_VERSION};
use serde_json::{json, Value};
use tower::ServiceExt;

const ISSUER: &str = "https://lms.example.com/oauth2";
const AUDIENCE: &str = "openedx";

#[allow(clippy::disallowed_methods)]
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims(now: i64) -> AccessClaims {
    AccessClaims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        exp: now + 3600,
        iat: now,
        jti: "bench".into(),
        sub: "0123456789abcdef0123456789abcdef".into(),
        preferred_username: "honor".into(),
        scopes: vec![
            "read".into(),
            "write".into(),
            "email".into(),
            "profile".into(),
        ],
        filters: vec!["user:me".into()],
        is_restricted: false,
        email_verified: true,
        grant_type: "password".into(),
        version: JWT_VERSION.into(),
        client_id: "mobile".into(),
        user_id: Some(42),
        email: Some("honor@example.com".into()),
        name: Some(Some("Honor Code".into())),
        given_name: None,
        family_name: None,
        administrator: Some(false),
        superuser: Some(false),
        token_use: None,
    }
}

/// The example service's `/profile` handler, and the same answer without authentication.
async fn profile(user: Authenticated) -> Json<Value> {
    Json(json!({
        "username": user.username(),
        "client_id": user.client_id(),
        "scopes": user.scopes(),
        "source": format!("{:?}", user.source()),
        "email_verified": user.email_verified(),
    }))
}

async fn unguarded() -> Json<Value> {
    Json(json!({
        "username": "honor",
        "client_id": "mobile",
        "scopes": ["read", "write", "email", "profile"],
        "source": "AuthorizationJwt",
        "email_verified": true,
    }))
}

fn guard(keys: &[SigningKey], cache_capacity: u64) -> Guard {
    let mut config = GuardConfig::new(ISSUER, AUDIENCE);
    config.keys = KeySource::Static(JwkSet {
        keys: keys.iter().map(SigningKey::public_jwk).collect(),
    });
    config.verification_cache_capacity = cache_capacity;
    Guard::new(config).unwrap()
}

/// A revocation feed whose full read holds 1 000 revoked `jti`s and 1 000 users' instants, none
/// of them the bench token's, and that stays quiet afterwards.
async fn feed(Query(query): Query<RevocationsQuery>) -> Json<Revocations> {
    if query.after.is_some() {
        tokio::time::sleep(Duration::from_secs(query.wait.unwrap_or(25))).await;
        return Json(Revocations {
            cursor: 1,
            ..Revocations::default()
        });
    }
    let now = now();
    Json(Revocations {
        cursor: 1,
        full: true,
        more: false,
        jtis: (0..1000)
            .map(|i| RevokedJti {
                jti: format!("revoked-{i:04}-0123456789abcdef"),
                exp: now + 3600,
            })
            .collect(),
        users: (0..1000)
            .map(|i| NotBefore {
                sub: format!("{i:032x}"),
                not_before: now,
            })
            .collect(),
    })
}

/// [`guard`] with its cache on, following the feed at `feed_url`, never stale during a run.
fn guard_following(keys: &[SigningKey], feed_url: String) -> Guard {
    let mut config = GuardConfig::new(ISSUER, AUDIENCE);
    config.keys = KeySource::Static(JwkSet {
        keys: keys.iter().map(SigningKey::public_jwk).collect(),
    });
    let mut feed = RevocationFeedConfig::new("bench", "bench-secret");
    feed.endpoint = Some(feed_url);
    feed.poll_wait = Duration::from_secs(60);
    feed.staleness_margin = Duration::from_secs(3600);
    config.revocations = Some(feed);
    Guard::new(config).unwrap()
}

fn request(name: axum::http::HeaderName, value: &HeaderValue) -> Request<Body> {
    Request::get("/profile")
        .header(name, value.clone())
        .body(Body::empty())
        .unwrap()
}

fn requests(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = now();
    let keys: Vec<SigningKey> = Algorithm::ALL
        .iter()
        .map(|&alg| SigningKey::generate(alg).unwrap())
        .collect();
    let tokens: Vec<String> = keys.iter().map(|k| k.sign(&claims(now)).unwrap()).collect();
    let header = HeaderValue::from_str(&format!("JWT {}", tokens[0])).unwrap();
    let (hp, sig) = tokens[0].rsplit_once('.').unwrap();
    let cookies = HeaderValue::from_str(&format!(
        "edx-jwt-cookie-header-payload={hp}; edx-jwt-cookie-signature={sig}; csrftoken=x"
    ))
    .unwrap();

    // Loopback servers (the feed, and the example for the `http` group) on their own thread.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let serve = |app: Router| {
        let listener = server_rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        server_rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    };
    let feed_url = format!(
        "{}/oauth2/revocations",
        serve(Router::new().route("/oauth2/revocations", get(feed)))
    );
    let following = guard_following(&keys, feed_url);
    rt.block_on(following.warm()).unwrap();

    let plain = Router::new().route("/profile", get(unguarded));
    let warm = Router::new()
        .route("/profile", get(profile))
        .layer(guard(&keys, 10_000).layer());
    let warm_feed = Router::new()
        .route("/profile", get(profile))
        .layer(following.layer());
    let cold = Router::new()
        .route("/profile", get(profile))
        .layer(guard(&keys, 0).layer());

    let call = |app: &Router, request: Request<Body>| {
        let response = rt.block_on(app.clone().oneshot(request)).unwrap();
        assert_eq!(response.status(), 200);
    };

    let mut group = c.benchmark_group("request");
    group.bench_function("without_guard", |b| {
        b.iter(|| call(&plain, request(AUTHORIZATION, &header)))
    });
    group.bench_function("with_guard_warm/header", |b| {
        b.iter(|| call(&warm, request(AUTHORIZATION, &header)))
    });
    group.bench_function("with_guard_warm/cookies", |b| {
        b.iter(|| call(&warm, request(COOKIE, &cookies)))
    });
    group.bench_function("with_guard_warm_feed/header", |b| {
        b.iter(|| call(&warm_feed, request(AUTHORIZATION, &header)))
    });
    for (key, token) in keys.iter().zip(&tokens) {
        let header = HeaderValue::from_str(&format!("JWT {token}")).unwrap();
        group.bench_with_input(
            BenchmarkId::new("with_guard_cold", key.algorithm()),
            &header,
            |b, header| b.iter(|| call(&cold, request(AUTHORIZATION, header))),
        );
    }
    group.finish();

    // Over loopback HTTP (hyper server, reqwest client with keep-alive), one request at a time:
    // what a client of the example service sees.
    let (plain_url, warm_url) = (
        format!("{}/profile", serve(plain.clone())),
        format!("{}/profile", serve(warm.clone())),
    );
    let client = reqwest::Client::new();
    let fetch = |url: &str| {
        rt.block_on(async {
            let response = client
                .get(url)
                .header(AUTHORIZATION, header.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.bytes().await.unwrap()
        })
    };
    let mut group = c.benchmark_group("http");
    group.bench_function("without_guard", |b| b.iter(|| fetch(&plain_url)));
    group.bench_function("with_guard_warm", |b| b.iter(|| fetch(&warm_url)));
    group.finish();

    // The guard's own share of a warm request, without the router: credential parsing, the
    // cache lookup (SHA-256 of the token), and the `Authenticated` value.
    let direct = guard(&keys, 10_000);
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(AUTHORIZATION, header.clone());
    let method = axum::http::Method::GET;
    let mut group = c.benchmark_group("guard");
    group.bench_function("authenticate_warm", |b| {
        b.iter(|| {
            rt.block_on(direct.authenticate(&method, &headers))
                .unwrap()
                .unwrap()
        })
    });
    group.bench_function("authenticate_warm_feed", |b| {
        b.iter(|| {
            rt.block_on(following.authenticate(&method, &headers))
                .unwrap()
                .unwrap()
        })
    });
    group.bench_function("parse_authorization", |b| {
        b.iter(|| {
            latchkey_guard::fuzzing::parse_authorization(header.as_bytes())
                .unwrap()
                .unwrap()
        })
    });
    group.finish();

    let set = JwkSet {
        keys: keys.iter().map(SigningKey::public_jwk).collect(),
    };
    let verifying = VerifyingKeys::from_jwk_set(&set).unwrap();
    let validation = Validation::new(ISSUER, AUDIENCE);
    let mut group = c.benchmark_group("verify");
    for (key, token) in keys.iter().zip(&tokens) {
        group.bench_with_input(
            BenchmarkId::from_parameter(key.algorithm()),
            token,
            |b, token| {
                b.iter(|| {
                    latchkey_token::verify::<AccessClaims>(token, &verifying, &validation, now)
                        .unwrap()
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = requests
}
criterion_main!(benches);
