//! End-to-end tests of the OAuth2 endpoints over real HTTP, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use latchkey_core::admin::{ClientSpec, UserSpec};
use latchkey_core::secret::Secret;
use latchkey_core::store::{NewUserRow, Store};
use latchkey_core::user::UserId;
use latchkey_store::{PgStore, SqliteStore};
use latchkey_testkit::{test_settings, Settings, TestServer};
use latchkey_token::AccessClaims;
use serde_json::Value;

/// Row counts of every token table: a refused request must leave them as they were.
trait Rows {
    async fn rows(&self) -> [i64; 4];
}

const COUNT: &str =
    "SELECT (SELECT COUNT(*) FROM access_tokens), (SELECT COUNT(*) FROM refresh_tokens), \
                     (SELECT COUNT(*) FROM refresh_families), (SELECT COUNT(*) FROM revoked_jtis)";

impl Rows for SqliteStore {
    async fn rows(&self) -> [i64; 4] {
        let r: (i64, i64, i64, i64) = sqlx::query_as(COUNT).fetch_one(self.pool()).await.unwrap();
        [r.0, r.1, r.2, r.3]
    }
}

impl Rows for PgStore {
    async fn rows(&self) -> [i64; 4] {
        let r: (i64, i64, i64, i64) = sqlx::query_as(COUNT).fetch_one(self.pool()).await.unwrap();
        [r.0, r.1, r.2, r.3]
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post(server: &TestServer<impl Store>, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    send(http().post(server.url(path)).form(form)).await
}

async fn post_basic(
    server: &TestServer<impl Store>,
    path: &str,
    (id, secret): (&str, &str),
    form: &[(&str, &str)],
) -> (u16, Value) {
    send(
        http()
            .post(server.url(path))
            .basic_auth(id, Some(secret))
            .form(form),
    )
    .await
}

/// Status and body (JSON when it parses, else the text as a JSON string).
async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

fn claims(server: &TestServer<impl Store>, jwt: &str) -> AccessClaims {
    let ring = server.tokens.keys().current();
    let v = latchkey_token::Validation::new(server.issuer(), "latchkey");
    latchkey_token::verify(jwt, &ring.verifying, &v, latchkey_server::clock::now()).unwrap()
}

/// A password-grant public client "mobile", a client_credentials client "svc" and a resource
/// server "introspector" granted `introspect`, all owned by alice (password "alice-pw").
struct Fixture {
    mobile: String,
    svc: (String, String),
    introspector: (String, String),
}

async fn fixture(server: &TestServer<impl Store>) -> Fixture {
    server.user("alice", "alice-pw").await;
    let mobile = server.public("mobile", "alice", "password").await;
    let svc = server
        .confidential("svc", "alice", "client-credentials")
        .await;
    let introspector = server
        .confidential_with(
            "introspector",
            "alice",
            "client-credentials",
            &["introspect"],
        )
        .await;
    Fixture {
        mobile,
        svc,
        introspector,
    }
}

async fn password_grant(server: &TestServer<impl Store>, f: &Fixture, jwt: bool) -> Value {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "alice-pw"),
        ("client_id", f.mobile.as_str()),
    ];
    if jwt {
        form.push(("token_type", "jwt"));
    }
    let (status, body) = post(server, "/oauth2/access_token", &form).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn introspect(server: &TestServer<impl Store>, f: &Fixture, token: &str) -> Value {
    let (id, secret) = &f.introspector;
    let (status, body) = post_basic(
        server,
        "/oauth2/introspect",
        (id, secret),
        &[("token", token)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn refresh(server: &TestServer<impl Store>, f: &Fixture, token: &str) -> (u16, Value) {
    post(
        server,
        "/oauth2/access_token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", f.mobile.as_str()),
        ],
    )
    .await
}

fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .to_owned()
}

/// (what, form, HTTP Basic credentials, expected status, expected `error`).
type BadCase<'a> = (
    &'a str,
    Vec<(&'a str, &'a str)>,
    Option<(&'a str, &'a str)>,
    u16,
    &'a str,
);

/// Refresh tokens that must be refused: another client's, a revoked one, an expired one (with its
/// short-lived client), and a live one of `f.mobile`.
struct DeadRefresh {
    live: String,
    foreign: String,
    revoked: String,
    expired: String,
    short: String,
}

async fn dead_refresh_tokens(server: &TestServer<impl Store>, f: &Fixture) -> DeadRefresh {
    let live = password_grant(server, f, false).await;
    let live_refresh = s(&live, "refresh_token");
    // A refresh token of another client, one that is revoked, and one that expired.
    let other = server.public("other-app", "alice", "password").await;
    let (_, foreign) = post(
        server,
        "/oauth2/access_token",
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-pw"),
            ("client_id", &other),
        ],
    )
    .await;
    let foreign = s(&foreign, "refresh_token");
    let revoked = s(&password_grant(server, f, false).await, "refresh_token");
    let (st, _) = post(
        server,
        "/oauth2/revoke_token",
        &[("token", &revoked), ("client_id", &f.mobile)],
    )
    .await;
    assert_eq!(st, 200);
    let short = server
        .client(ClientSpec {
            name: "short".into(),
            owner: "alice".into(),
            grant_type: "password".into(),
            public: true,
            refresh_lifetime: Some(1),
            ..ClientSpec::default()
        })
        .await
        .client
        .id;
    let (_, expired) = post(
        server,
        "/oauth2/access_token",
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-pw"),
            ("client_id", &short),
        ],
    )
    .await;
    let expired = s(&expired, "refresh_token");
    tokio::time::sleep(Duration::from_millis(2100)).await;

    DeadRefresh {
        live: live_refresh,
        foreign,
        revoked,
        expired,
        short,
    }
}

/// Every bad token request: its name, form, HTTP Basic credentials, status and RFC 6749 error.
fn bad_cases<'a>(f: &'a Fixture, dead: &'a DeadRefresh) -> Vec<BadCase<'a>> {
    let (svc_id, svc_secret) = (f.svc.0.as_str(), f.svc.1.as_str());
    let mobile = f.mobile.as_str();
    let (live_refresh, foreign, revoked, expired, short) = (
        dead.live.as_str(),
        dead.foreign.as_str(),
        dead.revoked.as_str(),
        dead.expired.as_str(),
        dead.short.as_str(),
    );
    vec![
        (
            "missing grant_type",
            vec![("client_id", mobile)],
            None,
            400,
            "invalid_request",
        ),
        (
            "unknown grant_type",
            vec![("grant_type", "implicit"), ("client_id", mobile)],
            None,
            400,
            "unsupported_grant_type",
        ),
        (
            "wrong secret (Basic)",
            vec![("grant_type", "client_credentials")],
            Some((svc_id, "wrong-secret-0123456789")),
            401,
            "invalid_client",
        ),
        (
            "wrong secret (body)",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", svc_id),
                ("client_secret", "nope"),
            ],
            None,
            401,
            "invalid_client",
        ),
        (
            "no secret for a confidential client",
            vec![("grant_type", "client_credentials"), ("client_id", svc_id)],
            None,
            401,
            "invalid_client",
        ),
        (
            "unknown client",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "ghost"),
                ("client_secret", "x"),
            ],
            None,
            401,
            "invalid_client",
        ),
        (
            "secret on a public client",
            vec![
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-pw"),
                ("client_id", mobile),
                ("client_secret", "s3cret"),
            ],
            None,
            401,
            "invalid_client",
        ),
        (
            "grant the client is not registered for",
            vec![("grant_type", "client_credentials"), ("client_id", mobile)],
            None,
            400,
            "unauthorized_client",
        ),
        (
            "unknown scope",
            vec![("grant_type", "client_credentials"), ("scope", "read nope")],
            Some((svc_id, svc_secret)),
            400,
            "invalid_scope",
        ),
        (
            "scope not allowed for the client",
            vec![
                ("grant_type", "client_credentials"),
                ("scope", "grades:read"),
            ],
            Some((svc_id, svc_secret)),
            400,
            "invalid_scope",
        ),
        (
            "wrong password",
            vec![
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "nope"),
                ("client_id", mobile),
            ],
            None,
            400,
            "invalid_grant",
        ),
        (
            "unknown user",
            vec![
                ("grant_type", "password"),
                ("username", "nobody"),
                ("password", "alice-pw"),
                ("client_id", mobile),
            ],
            None,
            400,
            "invalid_grant",
        ),
        (
            "missing password",
            vec![
                ("grant_type", "password"),
                ("username", "alice"),
                ("client_id", mobile),
            ],
            None,
            400,
            "invalid_request",
        ),
        (
            "expired refresh token",
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", expired),
                ("client_id", short),
            ],
            None,
            400,
            "invalid_grant",
        ),
        (
            "revoked refresh token",
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", revoked),
                ("client_id", mobile),
            ],
            None,
            400,
            "invalid_grant",
        ),
        (
            "foreign refresh token",
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", foreign),
                ("client_id", mobile),
            ],
            None,
            400,
            "invalid_grant",
        ),
        (
            "unknown refresh token",
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "made-up"),
                ("client_id", mobile),
            ],
            None,
            400,
            "invalid_grant",
        ),
        (
            "widened scope on refresh",
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", live_refresh),
                ("client_id", mobile),
                ("scope", "grades:read"),
            ],
            None,
            400,
            "invalid_scope",
        ),
        (
            "repeated parameter",
            vec![
                ("grant_type", "password"),
                ("grant_type", "password"),
                ("client_id", mobile),
            ],
            None,
            400,
            "invalid_request",
        ),
    ]
}

async fn bad_requests_get_rfc_errors_and_change_nothing<S: Store + Rows>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let dead = dead_refresh_tokens(&server, &f).await;
    let before = server.store.rows().await;
    for (name, form, basic, status, error) in bad_cases(&f, &dead) {
        let (got, body) = match basic {
            Some(creds) => post_basic(&server, "/oauth2/access_token", creds, &form).await,
            None => post(&server, "/oauth2/access_token", &form).await,
        };
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{name}: {body}"
        );
        assert!(body["error_description"].is_string(), "{name}: {body}");
        assert_eq!(
            server.store.rows().await,
            before,
            "{name} changed the database"
        );
    }
}

/// Bodies that are not forms, too large or not UTF-8 are refused before anything is read; a failed
/// HTTP Basic authentication is challenged.
async fn malformed_requests_are_refused_whole<S: Store + Rows>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let (svc_id, before) = (f.svc.0.as_str(), server.store.rows().await);
    let raw = |body: Vec<u8>, content_type: &'static str| {
        let url = server.url("/oauth2/access_token");
        async move {
            let r = http()
                .post(url)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (st, body) = raw(
        br#"{"grant_type":"client_credentials"}"#.to_vec(),
        "application/json",
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let big = format!("grant_type=password&username={}", "a".repeat(20_000)).into_bytes();
    let (st, body) = raw(big, "application/x-www-form-urlencoded").await;
    assert_eq!(
        (st, body["error"].as_str()),
        (413, Some("invalid_request")),
        "{body}"
    );
    let (st, body) = raw(
        vec![0xff, 0xfe, b'=', 0x80],
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert_eq!(
        server.store.rows().await,
        before,
        "malformed bodies changed the database"
    );

    // A failed HTTP Basic authentication is challenged (RFC 6749 §5.2).
    let r = http()
        .post(server.url("/oauth2/access_token"))
        .basic_auth(svc_id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("www-authenticate").is_some());
}

async fn every_grant_issues_open_edx_tokens<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    // password grant by email, as a JWT: the Open edX claim set.
    let (status, body) = post(
        &server,
        "/oauth2/access_token/",
        &[
            ("grant_type", "password"),
            ("username", "ALICE@example.org"),
            ("password", "alice-pw"),
            ("client_id", &f.mobile),
            ("token_type", "jwt"),
            ("asymmetric_jwt", "true"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s(&body, "token_type"), "JWT");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(s(&body, "scope"), "read write email profile user_id");
    let c = claims(&server, &s(&body, "access_token"));
    assert_eq!(c.preferred_username, "alice");
    assert_eq!(c.grant_type, "password");
    assert_eq!(c.version, "1.2.0");
    assert_eq!(c.client_id, f.mobile);
    assert_eq!(c.email.as_deref(), Some("alice@example.org"));
    assert!(c.user_id.is_some() && c.email_verified && !c.is_restricted);
    assert_eq!(c.sub.len(), 32);
    let header = latchkey_token::decode_header(&s(&body, "access_token")).unwrap();
    assert_eq!(header.alg, "RS512");
    assert_eq!(
        header.kid.as_deref(),
        Some(server.tokens.keys().signer().kid())
    );

    // X-Token-Type header instead of the field; refresh rotates.
    let r = http()
        .post(server.url("/oauth2/access_token"))
        .header("X-Token-Type", "JWT")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &s(&body, "refresh_token")),
            ("client_id", &f.mobile),
            ("scope", "read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    let refreshed: Value = r.json().await.unwrap();
    assert_eq!(s(&refreshed, "token_type"), "JWT", "{refreshed}");
    assert_eq!(
        s(&refreshed, "scope"),
        "read",
        "a refresh may narrow scopes"
    );
    assert_ne!(s(&refreshed, "refresh_token"), s(&body, "refresh_token"));
    assert_eq!(
        claims(&server, &s(&refreshed, "access_token")).scopes,
        ["read"]
    );
    // The narrowed refresh keeps the family's full grant for the next one (RFC 6749 §6).
    let (st, again) = refresh(&server, &f, &s(&refreshed, "refresh_token")).await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(s(&again, "scope"), "read write email profile user_id");

    // client_credentials, secret in the body, opaque: no refresh token; acts as the owner.
    let (status, cc) = post(
        &server,
        "/oauth2/access_token",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &f.svc.0),
            ("client_secret", &f.svc.1),
        ],
    )
    .await;
    assert_eq!(status, 200, "{cc}");
    assert_eq!(s(&cc, "token_type"), "Bearer");
    assert_eq!(cc["expires_in"], 36000);
    assert!(cc.get("refresh_token").is_none());
    let seen = introspect(&server, &f, &s(&cc, "access_token")).await;
    assert_eq!(seen["active"], true);
    assert_eq!(s(&seen, "username"), "alice");
    assert_eq!(s(&seen, "client_id"), f.svc.0);
    // The Open edX facts a guard needs to treat an opaque token like a JWT (RFC 7662 extensions).
    assert_eq!(seen["email_verified"], true);
    assert_eq!(seen["is_restricted"], false);
    assert_eq!(seen["filters"], serde_json::json!([]));

    // client_credentials JWT carries the client's grant type with hyphens.
    let (_, cc_jwt) = post_basic(
        &server,
        "/oauth2/access_token",
        (&f.svc.0, &f.svc.1),
        &[("grant_type", "client_credentials"), ("token_type", "jwt")],
    )
    .await;
    let c = claims(&server, &s(&cc_jwt, "access_token"));
    assert_eq!(c.grant_type, "client-credentials");
    assert_eq!(c.user_id, None, "user_id only with the user_id scope");
}

/// Open edX accounts beyond ASCII (Django's `UnicodeUsernameValidator`), created as the CLI
/// creates them: signed in by username and by email in any case, named unchanged in the JWT and
/// by introspection, which finds the user by that name again.
async fn unicode_users_sign_in_and_keep_their_names<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    for (username, email) in [
        ("李雷", "li.lei@example.cn"),
        ("José.Admin", "José.Admin@Example.org"),
    ] {
        server
            .user_with(UserSpec {
                username: username.into(),
                email: email.into(),
                password: Some(Secret::new("unicode-pw")),
                ..UserSpec::default()
            })
            .await;
    }
    let sign_in = |login: &'static str| {
        let (server, f) = (&server, &f);
        async move {
            post(
                server,
                "/oauth2/access_token",
                &[
                    ("grant_type", "password"),
                    ("username", login),
                    ("password", "unicode-pw"),
                    ("client_id", &f.mobile),
                    ("token_type", "jwt"),
                ],
            )
            .await
        }
    };
    for (login, username, email) in [
        ("李雷", "李雷", "li.lei@example.cn"),
        ("LI.LEI@EXAMPLE.CN", "李雷", "li.lei@example.cn"),
        ("José.Admin", "José.Admin", "José.Admin@Example.org"),
        (
            "JOSÉ.ADMIN@example.org",
            "José.Admin",
            "José.Admin@Example.org",
        ),
        // Typed decomposed (as some keyboards send it): the name its creation stored (NFKC).
        ("Jose\u{301}.Admin", "José.Admin", "José.Admin@Example.org"),
    ] {
        let (status, body) = sign_in(login).await;
        assert_eq!(status, 200, "{login:?}: {body}");
        let jwt = s(&body, "access_token");
        let c = claims(&server, &jwt);
        assert_eq!(c.preferred_username, username, "{login:?}");
        assert_eq!(c.email.as_deref(), Some(email), "{login:?}");
        let seen = introspect(&server, &f, &jwt).await;
        assert_eq!(
            (&seen["active"], &seen["username"]),
            (&Value::Bool(true), &Value::from(username))
        );
    }
    // Usernames are case-sensitive, as Django's.
    let (status, body) = sign_in("josé.admin").await;
    assert_eq!((status, s(&body, "error").as_str()), (400, "invalid_grant"));
}

async fn racing_refreshes_get_one_pair<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let first = password_grant(&server, &f, true).await;
    let token = s(&first, "refresh_token");
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let url = server.url("/oauth2/access_token");
        let form = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), token.clone()),
            ("client_id".to_owned(), f.mobile.clone()),
            ("token_type".to_owned(), "jwt".to_owned()),
        ];
        tasks.push(tokio::spawn(async move {
            let r = http().post(url).form(&form).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut pairs = std::collections::HashSet::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(
            status, 200,
            "inside the grace window every racer succeeds: {body}"
        );
        pairs.insert((s(&body, "access_token"), s(&body, "refresh_token")));
    }
    assert_eq!(pairs.len(), 1, "all racers hold the same successor pair");
    let (_, successor) = pairs.into_iter().next().unwrap();
    assert_eq!(introspect(&server, &f, &successor).await["active"], true);
    assert_eq!(
        introspect(&server, &f, &token).await["active"],
        false,
        "the rotated token is spent"
    );
}

async fn reuse_after_the_window_kills_the_family<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let first = password_grant(&server, &f, false).await;
    let (st, second) = refresh(&server, &f, &s(&first, "refresh_token")).await;
    assert_eq!(st, 200);
    let jwt_form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", &*s(&second, "refresh_token")),
        ("client_id", &*f.mobile),
        ("token_type", "jwt"),
    ];
    let (st, third) = post(&server, "/oauth2/access_token", &jwt_form).await;
    assert_eq!(st, 200, "{third}");
    for t in [
        s(&second, "access_token"),
        s(&third, "access_token"),
        s(&third, "refresh_token"),
    ] {
        assert_eq!(introspect(&server, &f, &t).await["active"], true);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await; // grace is 0 s on this server
    let (st, body) = refresh(&server, &f, &s(&first, "refresh_token")).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    for (what, t) in [
        ("first opaque access token", s(&first, "access_token")),
        ("second opaque access token", s(&second, "access_token")),
        ("JWT access token", s(&third, "access_token")),
        ("newest refresh token", s(&third, "refresh_token")),
    ] {
        assert_eq!(
            introspect(&server, &f, &t).await["active"],
            false,
            "{what} must die with its family"
        );
    }
    let (st, _) = refresh(&server, &f, &s(&third, "refresh_token")).await;
    assert_eq!(st, 400, "the newest refresh token is dead too");
}

async fn revocation_and_disabled_users<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let jwt = password_grant(&server, &f, true).await;
    let at = s(&jwt, "access_token");
    assert_eq!(introspect(&server, &f, &at).await["active"], true);
    // Another client cannot revoke it (and learns nothing: still 200).
    let (st, _) = post_basic(
        &server,
        "/oauth2/revoke_token",
        (&f.svc.0, &f.svc.1),
        &[("token", &at)],
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(introspect(&server, &f, &at).await["active"], true);
    let (st, _) = post(
        &server,
        "/oauth2/revoke_token",
        &[("token", &at), ("client_id", &f.mobile)],
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        introspect(&server, &f, &at).await["active"],
        false,
        "a JWT is revoked by its jti"
    );
    let (st, _) = post(
        &server,
        "/oauth2/revoke_token",
        &[("token", "unknown"), ("client_id", &f.mobile)],
    )
    .await;
    assert_eq!(st, 200, "RFC 7009 §2.2: unknown tokens are fine");
    let (st, body) = post(&server, "/oauth2/revoke_token", &[("client_id", &f.mobile)]).await;
    assert_eq!((st, body["error"].as_str()), (400, Some("invalid_request")));

    // Introspection needs a confidential client.
    let (st, body) = post(
        &server,
        "/oauth2/introspect",
        &[("token", &at), ("client_id", &f.mobile)],
    )
    .await;
    assert_eq!((st, body["error"].as_str()), (401, Some("invalid_client")));

    let live = password_grant(&server, &f, false).await;
    server
        .admin
        .set_disabled("alice", true, latchkey_server::clock::now())
        .await
        .unwrap();
    let (st, body) = post(
        &server,
        "/oauth2/access_token",
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-pw"),
            ("client_id", &f.mobile),
        ],
    )
    .await;
    assert_eq!((st, body["error"].as_str()), (400, Some("invalid_grant")));
    let (st, _) = refresh(&server, &f, &s(&live, "refresh_token")).await;
    assert_eq!(st, 400, "a disabled user cannot refresh");
    assert_eq!(
        introspect(&server, &f, &s(&live, "access_token")).await["active"],
        false
    );
}

async fn unverified_users_and_django_hashes<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    // Made by Django 4.2's make_password("edx", salt="PAQ8wKbvHZtv", hasher="pbkdf2_sha256").
    let django = "pbkdf2_sha256$600000$PAQ8wKbvHZtv$/4Rhro23z9a/DABOaceu/Fi3Hed9YQ2bA9aknkn7NCs=";
    let imported = server
        .store
        .insert_user(&NewUserRow {
            username: "imported".into(),
            email: "imported@example.org".into(),
            name: String::new(),
            password_hash: Some(django.into()),
            is_staff: false,
            is_superuser: false,
            email_verified: false,
            sub: "0123456789abcdef0123456789abcdef".into(),
            created_at: 0,
        })
        .await
        .unwrap();
    let (st, body) = post(
        &server,
        "/oauth2/access_token",
        &[
            ("grant_type", "password"),
            ("username", "imported"),
            ("password", "edx"),
            ("client_id", &f.mobile),
            ("token_type", "jwt"),
        ],
    )
    .await;
    assert_eq!(st, 200, "{body}");
    let c = claims(&server, &s(&body, "access_token"));
    assert!(
        !c.email_verified,
        "an unverified user signs in and the token says so"
    );
    assert_eq!(c.sub, "0123456789abcdef0123456789abcdef");
    let stored = server.store.user_by_id(imported.id).await.unwrap().unwrap();
    assert!(
        stored.password_hash.unwrap().starts_with("$argon2id$"),
        "upgraded on sign-in"
    );
    let (st, _) = post(
        &server,
        "/oauth2/access_token",
        &[
            ("grant_type", "password"),
            ("username", "imported"),
            ("password", "edx"),
            ("client_id", &f.mobile),
        ],
    )
    .await;
    assert_eq!(st, 200, "the upgraded hash verifies the same password");
    assert!(server
        .store
        .user_by_id(UserId(9999))
        .await
        .unwrap()
        .is_none());
}

async fn password_attempts_are_throttled<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    for _ in 0..3 {
        let (st, _) = post(
            &server,
            "/oauth2/access_token",
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "bad"),
                ("client_id", &f.mobile),
            ],
        )
        .await;
        assert_eq!(st, 400);
    }
    let r = http()
        .post(server.url("/oauth2/access_token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-pw"),
            ("client_id", &f.mobile),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(
        r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 0
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(s(&body, "error"), "temporarily_unavailable");
}

/// The janitor removes what expired, in batches smaller than the backlog, and nothing live.
async fn the_janitor_removes_expired_rows<S: Store + Rows>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let short = server
        .client(ClientSpec {
            name: "short-lived".into(),
            owner: "alice".into(),
            grant_type: "client-credentials".into(),
            opaque_lifetime: Some(1),
            ..ClientSpec::default()
        })
        .await;
    let secret = short.secret.unwrap();
    for _ in 0..5 {
        let (st, _) = post_basic(
            &server,
            "/oauth2/access_token",
            (&short.client.id, secret.expose()),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(st, 200);
    }
    let live = password_grant(&server, &f, false).await;
    assert_eq!(server.store.rows().await, [6, 1, 1, 0]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let settings = latchkey_server::janitor::JanitorSettings {
        interval: Duration::from_secs(60),
        batch: 2,
        max_jwt_lifetime: 3600,
    };
    latchkey_server::janitor::sweep(&server.tokens, &server.keys, &server.authz, settings).await;
    assert_eq!(
        server.store.rows().await,
        [1, 1, 1, 0],
        "only the expired tokens went"
    );
    assert_eq!(
        introspect(&server, &f, &s(&live, "access_token")).await["active"],
        true
    );
}

/// Introspection tells about any user's tokens, so only a client granted `introspect` may ask,
/// even for an answer the server holds in its cache. A grant or revocation made by the operator
/// (the CLI, another process) reaches the server within its client cache's TTL.
async fn introspection_needs_the_introspect_permission<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let token = s(&password_grant(&server, &f, true).await, "access_token");
    assert_eq!(introspect(&server, &f, &token).await["active"], true);
    // An answer describes a user's token: no cache on the way may keep it (nor the refusal).
    let (id, secret) = (f.introspector.0.as_str(), f.introspector.1.as_str());
    let answer = http()
        .post(server.url("/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let (id, secret) = (f.svc.0.as_str(), f.svc.1.as_str());
    let form = [("token", token.as_str())];
    let ask = || post_basic(&server, "/oauth2/introspect", (id, secret), &form);
    let (st, body) = ask().await;
    assert_eq!(
        (st, body["error"].as_str()),
        (403, Some("unauthorized_client")),
        "{body}"
    );
    assert_eq!(
        body["error_description"],
        "the client lacks the introspect permission"
    );

    let change = |granted: &[&str], revoked: &[&str]| ClientSpec {
        name: "svc".into(),
        owner: "alice".into(),
        grant_type: "client-credentials".into(),
        permissions: granted.iter().map(|p| p.to_string()).collect(),
        revoked_permissions: revoked.iter().map(|p| p.to_string()).collect(),
        ..ClientSpec::default()
    };
    let until = |want: u16| async move {
        let bound = short_client_cache().tokens.client_cache_ttl + Duration::from_secs(10);
        let start = std::time::Instant::now();
        loop {
            let (st, body) = ask().await;
            if st == want {
                return body;
            }
            assert!(
                start.elapsed() < bound,
                "still {st} after {bound:?}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let now = latchkey_server::clock::now();
    let saved = server
        .admin
        .save_client(change(&["introspect"], &[]), true, now);
    assert!(saved.await.unwrap().secret.is_none(), "the secret is kept");
    assert_eq!(until(200).await["active"], true);
    let saved = server
        .admin
        .save_client(change(&[], &["introspect"]), true, now);
    saved.await.unwrap();
    assert_eq!(until(403).await["error"], "unauthorized_client");
}

fn short_client_cache() -> Settings {
    let mut s = test_settings();
    s.tokens.client_cache_ttl = Duration::from_millis(200);
    s
}

fn grace_zero() -> Settings {
    let mut s = test_settings();
    s.tokens.refresh_grace = 0;
    s
}

fn strict_throttle() -> Settings {
    let mut s = test_settings();
    s.throttle.account_failures = 3;
    s
}

latchkey_testkit::on_both_backends! {
    bad_requests_get_rfc_errors_and_change_nothing => test_settings(),
    malformed_requests_are_refused_whole => test_settings(),
    every_grant_issues_open_edx_tokens => test_settings(),
    unicode_users_sign_in_and_keep_their_names => test_settings(),
    racing_refreshes_get_one_pair => test_settings(),
    reuse_after_the_window_kills_the_family => grace_zero(),
    revocation_and_disabled_users => test_settings(),
    unverified_users_and_django_hashes => test_settings(),
    password_attempts_are_throttled => strict_throttle(),
    the_janitor_removes_expired_rows => test_settings(),
    introspection_needs_the_introspect_permission => short_client_cache(),
}

/// Introspection answers for active tokens are reused for `introspection_cache_ttl` (2 s by
/// default). A revocation made on another node of the same database, or a user disabled outside
/// this node's token service, reaches this node's answers within that bound (docs/design/
/// oauth-decisions.md); the node that revoked answers "inactive" at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_other_nodes_changes_reach_introspection_within_the_cache_ttl() {
    let a = TestServer::postgres_with(test_settings()).await;
    let b = a.another_node().await;
    let f = fixture(&a).await;
    let bound = test_settings().tokens.introspection_cache_ttl + Duration::from_secs(10);
    let until_inactive = |token: String| {
        let (a, f) = (&a, &f);
        async move {
            let start = std::time::Instant::now();
            while introspect(a, f, &token).await["active"] == true {
                assert!(start.elapsed() < bound, "still active after {bound:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            start.elapsed()
        }
    };

    let revoked = s(&password_grant(&a, &f, false).await, "access_token");
    assert_eq!(introspect(&a, &f, &revoked).await["active"], true);
    let (st, _) = post(
        &b,
        "/oauth2/revoke_token",
        &[("token", &revoked), ("client_id", &f.mobile)],
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(introspect(&b, &f, &revoked).await["active"], false);
    let took = until_inactive(revoked).await;
    eprintln!("a revocation on node B reached node A's introspection after {took:?}");

    let live = s(&password_grant(&a, &f, true).await, "access_token");
    assert_eq!(introspect(&a, &f, &live).await["active"], true);
    b.admin
        .set_disabled("alice", true, latchkey_server::clock::now())
        .await
        .unwrap();
    let took = until_inactive(live).await;
    eprintln!("disabling the user reached node A's introspection after {took:?}");
}
