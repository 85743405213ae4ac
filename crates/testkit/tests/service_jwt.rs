//! `POST /oauth2/mint` (docs/design/openedx-migration.md, "Service JWTs over HTTP"), on SQLite
//! and on PostgreSQL: who is refused and with which RFC 6749 error, and what the JWT a client
//! granted `token:mint` gets says, verified with the published keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::admin::{ClientSpec, UserSpec};
use latchkey_core::secret::Secret;
use latchkey_core::store::Store;
use latchkey_server::clock::now;
use latchkey_testkit::TestServer;
use latchkey_token::{AccessClaims, Validation};
use serde_json::Value;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

struct Fixture {
    alice_id: i64,
    /// client_credentials, `token:mint`, scope `grades:read`, filter `content_org:MITx`.
    minter: (String, String),
    /// The same, restricted.
    restricted: (String, String),
    /// Confidential, without the permission.
    plain: (String, String),
    /// A public client (it cannot hold permissions).
    public: String,
}

async fn fixture(server: &TestServer<impl Store>) -> Fixture {
    let alice = server.user("alice", "alice-pw").await;
    server
        .user_with(UserSpec {
            username: "off".into(),
            email: "off@example.org".into(),
            password: Some(Secret::new("off-pw")),
            ..UserSpec::default()
        })
        .await;
    server.admin.set_disabled("off", true, now()).await.unwrap();
    let minting = |name: &str, restricted| ClientSpec {
        name: name.into(),
        owner: "alice".into(),
        grant_type: "client-credentials".into(),
        scopes: vec!["grades:read".into()],
        filters: vec!["content_org:MITx".into()],
        restricted,
        permissions: vec!["token:mint".into()],
        ..ClientSpec::default()
    };
    let pair = |saved: latchkey_core::admin::SavedClient| {
        (saved.client.id, saved.secret.unwrap().expose().to_owned())
    };
    Fixture {
        alice_id: alice.id.0,
        minter: pair(server.client(minting("minter", false)).await),
        restricted: pair(server.client(minting("restricted", true)).await),
        plain: server
            .confidential_with("plain", "alice", "client-credentials", &["introspect"])
            .await,
        public: server.public("app", "alice", "password").await,
    }
}

/// A client's id and, when it is confidential, its secret.
type Caller<'a> = (&'a str, Option<&'a str>);

/// Who asks, the form, and the answer's status, `error` and `error_description`.
type Refusal<'a> = (Caller<'a>, Vec<(&'a str, &'a str)>, u16, &'a str, &'a str);

/// The answer to a mint request by `client` (id, secret: Basic when there is a secret, else
/// `client_id` in the body), with its `Cache-Control`.
async fn mint(
    server: &TestServer<impl Store>,
    client: Caller<'_>,
    form: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let mut request = http().post(server.url("/oauth2/mint"));
    let mut form = form.to_vec();
    match client {
        (id, Some(secret)) => request = request.basic_auth(id, Some(secret)),
        (id, None) => form.push(("client_id", id)),
    }
    let r = request.form(&form).send().await.unwrap();
    let status = r.status().as_u16();
    let cache = r
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, r.json().await.unwrap(), cache)
}

async fn verify(server: &TestServer<impl Store>, jwt: &str) -> AccessClaims {
    let keys = server.published_keys().await;
    latchkey_token::verify(
        jwt,
        &keys,
        &Validation::new(server.issuer(), "latchkey"),
        now(),
    )
    .unwrap()
}

async fn refusals_name_what_is_wrong<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let minter = (f.minter.0.as_str(), Some(f.minter.1.as_str()));
    let alice = [("username", "alice")];
    let alice_id = f.alice_id.to_string();
    let cases: Vec<Refusal> = vec![
        (
            (&f.plain.0, Some(&f.plain.1)),
            alice.to_vec(),
            403,
            "unauthorized_client",
            "the client lacks the token:mint permission",
        ),
        (
            (&f.public, None),
            alice.to_vec(),
            401,
            "invalid_client",
            "minting service JWTs needs a confidential client",
        ),
        (
            (&f.minter.0, Some("not-the-secret")),
            alice.to_vec(),
            401,
            "invalid_client",
            "client authentication failed",
        ),
        (
            minter,
            vec![("username", "nobody")],
            400,
            "invalid_grant",
            "no such user",
        ),
        (
            minter,
            vec![("user_id", "999999")],
            400,
            "invalid_grant",
            "no such user",
        ),
        (
            minter,
            vec![("username", "alice@example.org")],
            400,
            "invalid_grant",
            "no such user",
        ),
        (
            minter,
            vec![("username", "off")],
            400,
            "invalid_grant",
            "the user is disabled",
        ),
        (
            minter,
            vec![("username", "alice"), ("scope", "email certificates:read")],
            400,
            "invalid_scope",
            "scope \"certificates:read\" is not allowed for this client",
        ),
        (
            minter,
            vec![("username", "alice"), ("scope", "root")],
            400,
            "invalid_scope",
            "scope \"root\" is not registered",
        ),
        (
            minter,
            vec![("username", "alice"), ("expires_in", "3601")],
            400,
            "invalid_request",
            "lifetime must be between 1 and 3600 seconds",
        ),
        (
            minter,
            vec![("username", "alice"), ("expires_in", "0")],
            400,
            "invalid_request",
            "lifetime must be between 1 and 3600 seconds",
        ),
        (
            minter,
            vec![("username", "alice"), ("user_id", &alice_id)],
            400,
            "invalid_request",
            "name the user by username or by user_id, not both",
        ),
        (
            minter,
            vec![("scope", "email")],
            400,
            "invalid_request",
            "missing username or user_id",
        ),
    ];
    for (client, form, status, error, description) in cases {
        let (got, body, _) = mint(&server, client, &form).await;
        assert_eq!(
            (
                got,
                body["error"].as_str(),
                body["error_description"].as_str()
            ),
            (status, Some(error), Some(description)),
            "{form:?}"
        );
        assert!(body.get("access_token").is_none());
    }
}

async fn a_minted_jwt_verifies_and_carries_the_users_claims<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let minter = (f.minter.0.as_str(), Some(f.minter.1.as_str()));
    let (status, body, _) = mint(
        &server,
        minter,
        &[
            ("username", "alice"),
            ("scope", "email profile grades:read user_id"),
        ],
    )
    .await;
    // `user_id` is registered but not the minter's: refused whole, nothing minted.
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    let before = now();
    let (status, body, cache) = mint(
        &server,
        minter,
        &[
            ("username", "alice"),
            ("scope", "email profile grades:read"),
            ("expires_in", "120"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(cache.as_deref(), Some("no-store"));
    assert_eq!(body["token_type"], "JWT");
    assert_eq!(body["expires_in"], 120);
    assert_eq!(body["scope"], "email profile grades:read");
    assert!(body.get("refresh_token").is_none());
    let c = verify(&server, body["access_token"].as_str().unwrap()).await;
    assert_eq!(c.preferred_username, "alice");
    assert_eq!(c.email.as_deref(), Some("alice@example.org"));
    assert_eq!(c.name, Some(Some("alice Example".into())));
    assert_eq!(c.administrator, Some(false));
    assert_eq!(c.user_id, None, "no user_id scope");
    assert_eq!(c.scopes, ["email", "profile", "grades:read"]);
    assert_eq!(c.token_use.as_deref(), Some("service"));
    assert_eq!(c.grant_type, "service");
    assert_eq!(c.client_id, f.minter.0);
    assert_eq!(c.filters, ["content_org:MITx"]);
    assert!(!c.is_restricted);
    assert_eq!(c.aud, "latchkey");
    assert_eq!(c.exp - c.iat, 120);
    assert!(c.iat >= before);

    // By user id, with the defaults: `email profile` for 300 seconds, on the trailing-slash path.
    let r = http()
        .post(server.url("/oauth2/mint/"))
        .basic_auth(&f.minter.0, Some(&f.minter.1))
        .form(&[("user_id", f.alice_id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["expires_in"].as_i64(), body["scope"].as_str()),
        (Some(300), Some("email profile"))
    );
    let c = verify(&server, body["access_token"].as_str().unwrap()).await;
    assert_eq!(c.preferred_username, "alice");
    assert_eq!(c.exp - c.iat, 300);

    // A restricted client's service JWT is restricted too.
    let (status, body, _) = mint(
        &server,
        (&f.restricted.0, Some(&f.restricted.1)),
        &[("username", "alice")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let c = verify(&server, body["access_token"].as_str().unwrap()).await;
    assert!(c.is_restricted);
    assert_eq!(c.client_id, f.restricted.0);
}

latchkey_testkit::on_both_backends! {
    refusals_name_what_is_wrong,
    a_minted_jwt_verifies_and_carries_the_users_claims,
}
