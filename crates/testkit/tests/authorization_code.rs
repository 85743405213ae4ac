//! The authorization code flow end to end, on SQLite and on PostgreSQL: the authorization
//! request's checks and where each error goes, codes exchanged at the token endpoint with PKCE,
//! replays, races, ID tokens verified with the published JWKS, UserInfo and discovery. The
//! browser side (sessions, consent page) drives the same core calls these tests make.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use latchkey_core::admin::ClientSpec;
use latchkey_core::authorize::{AuthorizeError, PageError};
use latchkey_core::store::Store;
use latchkey_core::user::User;
use latchkey_proto::{AuthorizeRequest, ErrorCode};
use latchkey_server::clock::now;
use latchkey_store::{PgStore, SqliteStore};
use latchkey_testkit::TestServer;
use latchkey_token::{AccessClaims, IdClaims, Validation};
use serde_json::Value;

const CB: &str = "https://app.example.org/cb";
const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more.~_";

/// Row counts of everything an authorization or an exchange can write (tokens, families,
/// revocations, codes, used codes): a refused request must leave them as they were.
trait Rows {
    async fn rows(&self) -> [i64; 6];
}

const COUNT: &str = "SELECT (SELECT COUNT(*) FROM access_tokens), \
     (SELECT COUNT(*) FROM refresh_tokens), (SELECT COUNT(*) FROM refresh_families), \
     (SELECT COUNT(*) FROM revoked_jtis), (SELECT COUNT(*) FROM authorization_codes), \
     (SELECT COUNT(*) FROM authorization_codes WHERE used_at IS NOT NULL)";

type Counts = (i64, i64, i64, i64, i64, i64);

impl Rows for SqliteStore {
    async fn rows(&self) -> [i64; 6] {
        let r: Counts = sqlx::query_as(COUNT).fetch_one(self.pool()).await.unwrap();
        [r.0, r.1, r.2, r.3, r.4, r.5]
    }
}

impl Rows for PgStore {
    async fn rows(&self) -> [i64; 6] {
        let r: Counts = sqlx::query_as(COUNT).fetch_one(self.pool()).await.unwrap();
        [r.0, r.1, r.2, r.3, r.4, r.5]
    }
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()))
}

/// alice; a public client "spa" and a confidential client "partner", both for the
/// authorization-code grant with the one redirect URI [`CB`]; a password-grant client "mobile".
struct Fixture {
    alice: User,
    spa: String,
    partner: (String, String),
    mobile: String,
}

async fn fixture(server: &TestServer<impl Store>) -> Fixture {
    let alice = server.user("alice", "alice-pw").await;
    let code_client = |name: &str, public: bool| ClientSpec {
        name: name.into(),
        owner: "alice".into(),
        grant_type: "authorization-code".into(),
        public,
        redirect_uris: vec![CB.into()],
        scopes: vec!["grades:read".into()],
        filters: vec!["content_org:MITx".into()],
        ..ClientSpec::default()
    };
    let spa = server.client(code_client("spa", true)).await.client.id;
    let partner = server.client(code_client("partner", false)).await;
    let mobile = server.public("mobile", "alice", "password").await;
    Fixture {
        alice,
        spa,
        partner: (
            partner.client.id,
            partner.secret.unwrap().expose().to_owned(),
        ),
        mobile,
    }
}

fn request(client_id: &str, pkce: bool) -> AuthorizeRequest {
    AuthorizeRequest {
        response_type: Some("code".into()),
        client_id: Some(client_id.into()),
        redirect_uri: Some(CB.into()),
        scope: Some("openid email profile".into()),
        state: Some("st@te 1".into()),
        code_challenge: pkce.then(|| challenge(VERIFIER)),
        code_challenge_method: pkce.then(|| "S256".into()),
        nonce: Some("n-0S6_WzA2Mj".into()),
    }
}

/// What the authorization endpoint does once the user consented: a code for `req`, issued at
/// `issued_at`; the user signed in 30 seconds before.
async fn code_at(
    server: &TestServer<impl Store>,
    user: &User,
    req: AuthorizeRequest,
    issued_at: i64,
) -> String {
    let auth = server.tokens.authorize(req).await.unwrap();
    let consented = server
        .tokens
        .grant_consent(&auth, user, issued_at)
        .await
        .unwrap();
    let code = server
        .tokens
        .issue_code(&consented, issued_at - 30, issued_at)
        .await
        .unwrap();
    let location = auth.code_location(&code);
    let expected = format!("{CB}?code={}&state=st%40te+1", code.expose());
    assert_eq!(location, expected, "code and state go back to the client");
    code.expose().to_owned()
}

async fn code(server: &TestServer<impl Store>, user: &User, req: AuthorizeRequest) -> String {
    code_at(server, user, req, now()).await
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
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

async fn token(server: &TestServer<impl Store>, form: &[(&str, &str)]) -> (u16, Value) {
    send(http().post(server.url("/oauth2/access_token")).form(form)).await
}

/// The exchange of `code` by the public client with its verifier.
async fn exchange_public(
    server: &TestServer<impl Store>,
    f: &Fixture,
    code: &str,
    jwt: bool,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CB),
        ("client_id", f.spa.as_str()),
        ("code_verifier", VERIFIER),
    ];
    if jwt {
        form.push(("token_type", "jwt"));
    }
    token(server, &form).await
}

async fn exchange_confidential(
    server: &TestServer<impl Store>,
    f: &Fixture,
    code: &str,
) -> (u16, Value) {
    let (id, secret) = (&f.partner.0, &f.partner.1);
    send(
        http()
            .post(server.url("/oauth2/access_token"))
            .basic_auth(id, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CB),
            ]),
    )
    .await
}

async fn userinfo(server: &TestServer<impl Store>, auth: Option<&str>) -> (u16, Value, String) {
    let mut req = http().get(server.url("/oauth2/userinfo"));
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let r = req.send().await.unwrap();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap(), challenge)
}

async fn a_public_client_with_pkce_gets_jwts_and_a_verifiable_id_token<S: Store>(
    server: TestServer<S>,
) {
    let f = fixture(&server).await;
    let code = code(&server, &f.alice, request(&f.spa, true)).await;
    let (status, body) = exchange_public(&server, &f, &code, true).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "JWT");
    assert_eq!(body["scope"], "openid email profile");
    let keys = server.published_keys().await;
    let access: AccessClaims = latchkey_token::verify(
        body["access_token"].as_str().unwrap(),
        &keys,
        &Validation::new(server.issuer(), "latchkey"),
        now(),
    )
    .unwrap();
    assert_eq!(access.grant_type, "authorization-code");
    assert_eq!(access.client_id, f.spa);
    assert_eq!(access.filters, ["content_org:MITx", "user:me"]);
    assert_eq!(access.email.as_deref(), Some("alice@example.org"));

    // The ID token is for the client, signed with a published key, and carries the nonce.
    let id: IdClaims = latchkey_token::verify(
        body["id_token"].as_str().unwrap(),
        &keys,
        &Validation::new(server.issuer(), f.spa.as_str()),
        now(),
    )
    .unwrap();
    assert_eq!(id.sub, f.alice.sub);
    assert_eq!(id.aud, f.spa);
    assert_eq!(id.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert!(
        id.auth_time <= id.iat && id.iat - id.auth_time <= 31,
        "{id:?}"
    );
    assert!(id.exp > id.iat);
    assert_eq!(id.email.as_deref(), Some("alice@example.org"));
    assert_eq!(id.email_verified, Some(true));
    assert_eq!(id.name.as_deref(), Some("alice Example"));
    assert_eq!(id.preferred_username.as_deref(), Some("alice"));
    let for_another = latchkey_token::verify::<IdClaims>(
        body["id_token"].as_str().unwrap(),
        &keys,
        &Validation::new(server.issuer(), f.mobile.as_str()),
        now(),
    );
    assert!(for_another.is_err(), "aud is the client alone");

    // The refresh token works as any other, for the same client.
    let (status, refreshed) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ("client_id", f.spa.as_str()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert!(refreshed.get("id_token").is_none());
}

async fn a_confidential_client_without_pkce_gets_opaque_tokens<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let mut req = request(&f.partner.0, false);
    req.scope = Some("read email profile grades:read".into());
    let code = code(&server, &f.alice, req).await;
    let (status, body) = exchange_confidential(&server, &f, &code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read email profile grades:read");
    assert!(body["refresh_token"].is_string());
    assert!(body.get("id_token").is_none(), "no openid, no ID token");
    let bearer = format!("Bearer {}", body["access_token"].as_str().unwrap());
    let (status, info, _) = userinfo(&server, Some(&bearer)).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["preferred_username"], "alice");
    assert_eq!(info["sub"], f.alice.sub.as_str());
}

/// Each bad authorization request: refused where RFC 6749 §4.1.2.1 says (our page, or the
/// client's redirect URI with `error=` and `state`), and no code is stored.
async fn bad_authorization_requests_are_refused_where_the_rfc_says<S: Store + Rows>(
    server: TestServer<S>,
) {
    let f = fixture(&server).await;
    let ok = || request(&f.spa, true);
    type Edit = Box<dyn Fn(&mut AuthorizeRequest)>;
    let redirected: Vec<(&str, Edit, ErrorCode)> = vec![
        (
            "missing response_type",
            Box::new(|r| r.response_type = None),
            ErrorCode::InvalidRequest,
        ),
        (
            "response_type token",
            Box::new(|r| r.response_type = Some("token".into())),
            ErrorCode::UnsupportedResponseType,
        ),
        (
            "public client without PKCE",
            Box::new(|r| {
                r.code_challenge = None;
                r.code_challenge_method = None;
            }),
            ErrorCode::InvalidRequest,
        ),
        (
            "PKCE plain",
            Box::new(|r| {
                r.code_challenge = Some(VERIFIER.into());
                r.code_challenge_method = Some("plain".into());
            }),
            ErrorCode::InvalidRequest,
        ),
        (
            "PKCE without a method (plain)",
            Box::new(|r| r.code_challenge_method = None),
            ErrorCode::InvalidRequest,
        ),
        (
            "scope the client may not have",
            Box::new(|r| r.scope = Some("read certificates:read".into())),
            ErrorCode::InvalidScope,
        ),
        (
            "unregistered scope",
            Box::new(|r| r.scope = Some("read nonsense".into())),
            ErrorCode::InvalidScope,
        ),
    ];
    let before = server.store.rows().await;
    for (what, edit, code) in redirected {
        let mut req = ok();
        edit(&mut req);
        match server.tokens.authorize(req).await {
            Err(AuthorizeError::Redirect(e)) => {
                assert_eq!(e.error, code, "{what}");
                assert_eq!(e.state.as_deref(), Some("st@te 1"), "{what}");
                let location = e.location();
                assert!(
                    location.starts_with(&format!("{CB}?error={}&", code.as_str())),
                    "{what}: {location}"
                );
                assert!(location.ends_with("&state=st%40te+1"), "{what}: {location}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    // A password-grant client may not use this flow; its registered URI is trusted, so the
    // client hears of it.
    let mobile = server
        .client(ClientSpec {
            name: "mobile-with-uri".into(),
            owner: "alice".into(),
            grant_type: "password".into(),
            public: true,
            redirect_uris: vec![CB.into()],
            ..ClientSpec::default()
        })
        .await
        .client
        .id;
    match server.tokens.authorize(request(&mobile, true)).await {
        Err(AuthorizeError::Redirect(e)) => assert_eq!(e.error, ErrorCode::UnauthorizedClient),
        other => panic!("{other:?}"),
    }

    let paged: Vec<(&str, Edit)> = vec![
        ("missing client_id", Box::new(|r| r.client_id = None)),
        (
            "unknown client",
            Box::new(|r| r.client_id = Some("nobody".into())),
        ),
        ("missing redirect_uri", Box::new(|r| r.redirect_uri = None)),
        (
            "extra path",
            Box::new(|r| r.redirect_uri = Some(format!("{CB}/more"))),
        ),
        (
            "extra query",
            Box::new(|r| r.redirect_uri = Some(format!("{CB}?x=1"))),
        ),
        (
            "extra fragment",
            Box::new(|r| r.redirect_uri = Some(format!("{CB}#x"))),
        ),
        (
            "trailing slash",
            Box::new(|r| r.redirect_uri = Some(format!("{CB}/"))),
        ),
        (
            "another host",
            Box::new(|r| r.redirect_uri = Some("https://evil.example.com/cb".into())),
        ),
        (
            "bad URI even with a bad response_type",
            Box::new(|r| {
                r.redirect_uri = Some("https://evil.example.com/cb".into());
                r.response_type = Some("token".into());
            }),
        ),
    ];
    for (what, edit) in paged {
        let mut req = ok();
        edit(&mut req);
        match server.tokens.authorize(req).await {
            Err(AuthorizeError::Page(
                PageError::MissingClient
                | PageError::UnknownClient
                | PageError::MissingRedirectUri
                | PageError::UnregisteredRedirectUri,
            )) => {}
            other => panic!("{what}: never redirected, got {other:?}"),
        }
    }
    assert_eq!(
        server.store.rows().await,
        before,
        "no refused request stored a code"
    );
}

/// Each bad exchange: the RFC error, nothing written, and the code still good for the right
/// exchange afterwards (a refused attempt does not burn it).
async fn bad_exchanges_get_rfc_errors_and_change_nothing<S: Store + Rows>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let pkce_code = code(&server, &f.alice, request(&f.spa, true)).await;
    let plain_code = code(&server, &f.alice, request(&f.partner.0, false)).await;
    let expired = code_at(&server, &f.alice, request(&f.spa, true), now() - 61).await;
    let other_verifier = "another-verifier-of-forty-three-characters-at-least";
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
    let table: Vec<Case> = vec![
        (
            "wrong verifier",
            vec![("code", &pkce_code), ("code_verifier", other_verifier)],
            400,
            "invalid_grant",
        ),
        (
            "no verifier for a PKCE code",
            vec![("code", &pkce_code)],
            400,
            "invalid_grant",
        ),
        (
            "malformed verifier",
            vec![("code", &pkce_code), ("code_verifier", "short")],
            400,
            "invalid_request",
        ),
        (
            "expired code",
            vec![("code", &expired), ("code_verifier", VERIFIER)],
            400,
            "invalid_grant",
        ),
        (
            "code of another client",
            vec![("code", &plain_code), ("code_verifier", VERIFIER)],
            400,
            "invalid_grant",
        ),
        (
            "unknown code",
            vec![("code", "not-a-code"), ("code_verifier", VERIFIER)],
            400,
            "invalid_grant",
        ),
        (
            "missing code",
            vec![("code_verifier", VERIFIER)],
            400,
            "invalid_request",
        ),
    ];
    let before = server.store.rows().await;
    for (what, fields, status, error) in table {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("redirect_uri", CB),
            ("client_id", f.spa.as_str()),
        ];
        form.extend(fields);
        let (got, body) = token(&server, &form).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{what}: {body}"
        );
        assert_eq!(
            server.store.rows().await,
            before,
            "{what} changed the database"
        );
    }
    for (what, uri) in [
        ("extra path", format!("{CB}/more")),
        ("extra query", format!("{CB}?x=1")),
        ("extra fragment", format!("{CB}#x")),
        ("missing", String::new()),
    ] {
        let (got, body) = token(
            &server,
            &[
                ("grant_type", "authorization_code"),
                ("code", &pkce_code),
                ("redirect_uri", &uri),
                ("client_id", &f.spa),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        let error = if uri.is_empty() {
            "invalid_request"
        } else {
            "invalid_grant"
        };
        assert_eq!(
            (got, body["error"].as_str()),
            (400, Some(error)),
            "{what}: {body}"
        );
        assert_eq!(
            server.store.rows().await,
            before,
            "{what} changed the database"
        );
    }
    // A verifier sent for a code issued without a challenge: a downgrade, refused.
    let (id, secret) = (&f.partner.0, &f.partner.1);
    let (got, body) = send(
        http()
            .post(server.url("/oauth2/access_token"))
            .basic_auth(id, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &plain_code),
                ("redirect_uri", CB),
                ("code_verifier", VERIFIER),
            ]),
    )
    .await;
    assert_eq!(
        (got, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // The password-grant client may not exchange codes at all.
    let (got, body) = token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &pkce_code),
            ("redirect_uri", CB),
            ("client_id", &f.mobile),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(
        (got, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    assert_eq!(server.store.rows().await, before);

    let (status, body) = exchange_public(&server, &f, &pkce_code, false).await;
    assert_eq!(status, 200, "refused attempts left the code usable: {body}");
    let (status, body) = exchange_confidential(&server, &f, &plain_code).await;
    assert_eq!(status, 200, "{body}");
}

/// RFC 6749 §4.1.2: a code used twice is refused, and what its first use issued is revoked.
async fn a_replayed_code_revokes_what_its_first_use_issued<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    for jwt in [false, true] {
        let code = code(&server, &f.alice, request(&f.spa, true)).await;
        let (status, first) = exchange_public(&server, &f, &code, jwt).await;
        assert_eq!(status, 200, "{first}");
        let bearer = format!("Bearer {}", first["access_token"].as_str().unwrap());
        assert_eq!(userinfo(&server, Some(&bearer)).await.0, 200);

        let (status, replay) = exchange_public(&server, &f, &code, jwt).await;
        assert_eq!(
            (status, replay["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let (status, _, challenge) = userinfo(&server, Some(&bearer)).await;
        assert_eq!(status, 401, "jwt={jwt}: the first access token is revoked");
        assert!(challenge.contains("invalid_token"), "{challenge}");
        let (status, refreshed) = token(
            &server,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", first["refresh_token"].as_str().unwrap()),
                ("client_id", f.spa.as_str()),
            ],
        )
        .await;
        assert_eq!(
            (status, refreshed["error"].as_str()),
            (400, Some("invalid_grant")),
            "jwt={jwt}: the first refresh token is revoked"
        );
    }
}

/// Several exchanges of one code at once: exactly one gets tokens. The others are replays,
/// and revoke what the winner got, as a replay after it would.
async fn parallel_exchanges_of_one_code_have_one_winner<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let code = code(&server, &f.alice, request(&f.spa, true)).await;
    let server = std::sync::Arc::new(server);
    let f = std::sync::Arc::new(f);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (server, f, code) = (server.clone(), f.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            exchange_public(&server, &f, &code, false).await
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => won.push(body),
            400 => assert_eq!(body["error"], "invalid_grant", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(won.len(), 1, "{won:?}");
    let bearer = format!("Bearer {}", won[0]["access_token"].as_str().unwrap());
    assert_eq!(userinfo(&server, Some(&bearer)).await.0, 401);
}

/// UserInfo answers for our JWT and opaque access tokens with the claims their scopes allow,
/// in the shape edx-drf-extensions' `BearerAuthentication` reads; anything else is 401 with a
/// Bearer challenge (RFC 6750 §3).
async fn userinfo_answers_by_scope_for_jwt_and_opaque_tokens<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    for jwt in [false, true] {
        for (scope, full) in [("read", false), ("read email profile", true)] {
            let mut form = vec![
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-pw"),
                ("client_id", f.mobile.as_str()),
                ("scope", scope),
            ];
            if jwt {
                form.push(("token_type", "jwt"));
            }
            let (status, body) = token(&server, &form).await;
            assert_eq!(status, 200, "{body}");
            let access = body["access_token"].as_str().unwrap();
            let scheme = if jwt { "JWT" } else { "Bearer" };
            let (status, info, _) = userinfo(&server, Some(&format!("{scheme} {access}"))).await;
            assert_eq!(status, 200, "{info}");
            assert_eq!(info["sub"], f.alice.sub.as_str());
            assert_eq!(info["preferred_username"], "alice");
            if full {
                assert_eq!(info["email"], "alice@example.org");
                assert_eq!(info["email_verified"], true);
                assert_eq!(info["given_name"], "");
                assert_eq!(info["family_name"], "");
                assert_eq!(info["name"], "alice Example");
                assert_eq!(info["administrator"], false);
            } else {
                let keys: Vec<_> = info.as_object().unwrap().keys().cloned().collect();
                assert_eq!(keys.len(), 2, "only sub and preferred_username: {keys:?}");
            }
            // POST answers the same.
            let posted: Value = http()
                .post(server.url("/oauth2/userinfo"))
                .bearer_auth(access)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(posted, info);
            let legacy: Value = http()
                .get(server.url("/oauth2/user_info/"))
                .bearer_auth(access)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(legacy, info, "the path edx-drf-extensions' subclasses ask");
            if full && !jwt {
                // A refresh token is not an access token.
                let refresh = format!("Bearer {}", body["refresh_token"].as_str().unwrap());
                assert_eq!(userinfo(&server, Some(&refresh)).await.0, 401);
            }
        }
    }
    let (status, body, challenge) = userinfo(&server, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        challenge, "Bearer realm=\"latchkey\"",
        "no error without a token"
    );
    for bad in ["Bearer nonsense", "Bearer a.b.c", "Basic YTpi", "Bearer "] {
        let (status, body, challenge) = userinfo(&server, Some(bad)).await;
        assert_eq!(status, 401, "{bad}: {body}");
        assert!(
            challenge.starts_with("Bearer realm=\"latchkey\""),
            "{bad}: {challenge}"
        );
    }
    // A disabled user's tokens answer nothing.
    let (_, body) = token(
        &server,
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice-pw"),
            ("client_id", f.mobile.as_str()),
        ],
    )
    .await;
    server
        .admin
        .set_disabled("alice", true, now())
        .await
        .unwrap();
    let bearer = format!("Bearer {}", body["access_token"].as_str().unwrap());
    assert_eq!(userinfo(&server, Some(&bearer)).await.0, 401);
}

async fn discovery_lists_the_code_flow_and_userinfo<S: Store>(server: TestServer<S>) {
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let doc: Value = http()
            .get(server.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["issuer"], server.issuer().as_str(), "{path}");
        assert_eq!(
            doc["authorization_endpoint"],
            server.url("/oauth2/authorize").as_str()
        );
        assert_eq!(
            doc["userinfo_endpoint"],
            server.url("/oauth2/userinfo").as_str()
        );
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        let grants = doc["grant_types_supported"].as_array().unwrap();
        for g in [
            "authorization_code",
            "password",
            "client_credentials",
            "refresh_token",
        ] {
            assert!(grants.iter().any(|x| x == g), "{path}: {g}");
        }
        let scopes = doc["scopes_supported"].as_array().unwrap();
        assert!(scopes.iter().any(|s| s == "openid"), "{path}");
    }
}

/// Consent is asked once per scope set: remembered, widened on request, forgotten on revocation;
/// a client that skips authorization never asks.
async fn consent_is_remembered_and_revocable<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let tokens = &server.tokens;
    let mut narrow = request(&f.spa, true);
    narrow.scope = Some("openid email".into());
    let narrow = tokens.authorize(narrow).await.unwrap();
    let wide = tokens.authorize(request(&f.spa, true)).await.unwrap();
    assert!(tokens
        .consent_given(&wide, &f.alice)
        .await
        .unwrap()
        .is_none());
    tokens.grant_consent(&wide, &f.alice, now()).await.unwrap();
    assert!(tokens
        .consent_given(&wide, &f.alice)
        .await
        .unwrap()
        .is_some());
    assert!(
        tokens
            .consent_given(&narrow, &f.alice)
            .await
            .unwrap()
            .is_some(),
        "fewer scopes than granted need no question"
    );
    let bob = server.user("bob", "bob-pw").await;
    assert!(
        tokens.consent_given(&wide, &bob).await.unwrap().is_none(),
        "consent is the user's own"
    );
    let mut more = request(&f.spa, true);
    more.scope = Some("openid email profile grades:read".into());
    let more = tokens.authorize(more).await.unwrap();
    assert!(tokens
        .consent_given(&more, &f.alice)
        .await
        .unwrap()
        .is_none());
    tokens.grant_consent(&more, &f.alice, now()).await.unwrap();
    let remembered = tokens.consents(f.alice.id).await.unwrap();
    assert_eq!(remembered.len(), 1);
    assert_eq!(
        remembered[0].scopes,
        ["openid", "email", "profile", "grades:read"],
        "granted scopes accumulate"
    );
    assert!(tokens.revoke_consent(f.alice.id, &f.spa).await.unwrap());
    assert!(tokens
        .consent_given(&narrow, &f.alice)
        .await
        .unwrap()
        .is_none());

    let trusted = server
        .client(ClientSpec {
            name: "first-party".into(),
            owner: "alice".into(),
            grant_type: "authorization-code".into(),
            public: true,
            redirect_uris: vec![CB.into()],
            skip_authorization: true,
            ..ClientSpec::default()
        })
        .await
        .client
        .id;
    let auth = tokens.authorize(request(&trusted, true)).await.unwrap();
    assert!(tokens
        .consent_given(&auth, &f.alice)
        .await
        .unwrap()
        .is_some());
}

latchkey_testkit::on_both_backends! {
    a_public_client_with_pkce_gets_jwts_and_a_verifiable_id_token,
    a_confidential_client_without_pkce_gets_opaque_tokens,
    bad_authorization_requests_are_refused_where_the_rfc_says,
    bad_exchanges_get_rfc_errors_and_change_nothing,
    a_replayed_code_revokes_what_its_first_use_issued,
    parallel_exchanges_of_one_code_have_one_winner,
    userinfo_answers_by_scope_for_jwt_and_opaque_tokens,
    discovery_lists_the_code_flow_and_userinfo,
    consent_is_remembered_and_revocable,
}
