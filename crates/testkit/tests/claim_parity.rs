//! Claim parity with Open edX (docs/design/openedx-migration.md, "Claim parity"), on SQLite and
//! on PostgreSQL: per grant and client kind, what the JWT says (`filters` with `user:me` unless
//! the client is a client_credentials one, `is_restricted`, `grant_type`, `name` as a string or
//! `null`) and what an opaque token is (a restricted client's is expired when issued, and the
//! token endpoint still answers with it, with a negative `expires_in`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::admin::{ClientSpec, UserSpec};
use latchkey_core::secret::Secret;
use latchkey_core::store::Store;
use latchkey_proto::AuthorizeRequest;
use latchkey_server::clock::now;
use latchkey_testkit::TestServer;
use latchkey_token::AccessClaims;
use serde_json::Value;

const CB: &str = "https://app.example.org/cb";
const ORG: &str = "content_org:MITx";

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

/// How a case gets its tokens.
#[derive(Clone, Copy, Debug)]
enum Grant {
    /// The password grant for this user.
    Password(&'static str),
    /// The refresh grant, on a refresh token the password grant gave this user.
    Refresh(&'static str),
    /// An authorization code this user consented to.
    Code(&'static str),
    /// client_credentials: the client acts as its owner.
    ClientCredentials,
}

/// One client: its grant type and whether it is restricted; all of them confidential, with
/// the filter [`ORG`] and the scope `grades:read`.
struct Case {
    client: &'static str,
    grant_type: &'static str,
    restricted: bool,
    grant: Grant,
    /// What the JWT (and an introspected opaque token) carries as `filters`.
    filters: &'static [&'static str],
    /// The JWT's `grant_type` claim: the client's configured grant type.
    grant_claim: &'static str,
    /// `name` in a JWT with the `profile` scope: `None` is JSON `null`.
    name: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        client: "pw",
        grant_type: "password",
        restricted: false,
        grant: Grant::Password("named"),
        filters: &[ORG, "user:me"],
        grant_claim: "password",
        name: Some("Named Person"),
    },
    Case {
        client: "pw",
        grant_type: "password",
        restricted: false,
        grant: Grant::Password("nameless"),
        filters: &[ORG, "user:me"],
        grant_claim: "password",
        name: None,
    },
    Case {
        client: "pw",
        grant_type: "password",
        restricted: false,
        grant: Grant::Refresh("named"),
        filters: &[ORG, "user:me"],
        grant_claim: "password",
        name: Some("Named Person"),
    },
    Case {
        client: "pw-restricted",
        grant_type: "password",
        restricted: true,
        grant: Grant::Password("nameless"),
        filters: &[ORG, "user:me"],
        grant_claim: "password",
        name: None,
    },
    Case {
        client: "pw-restricted",
        grant_type: "password",
        restricted: true,
        grant: Grant::Refresh("named"),
        filters: &[ORG, "user:me"],
        grant_claim: "password",
        name: Some("Named Person"),
    },
    Case {
        client: "code",
        grant_type: "authorization-code",
        restricted: false,
        grant: Grant::Code("named"),
        filters: &[ORG, "user:me"],
        grant_claim: "authorization-code",
        name: Some("Named Person"),
    },
    Case {
        client: "code-restricted",
        grant_type: "authorization-code",
        restricted: true,
        grant: Grant::Code("nameless"),
        filters: &[ORG, "user:me"],
        grant_claim: "authorization-code",
        name: None,
    },
    // client_credentials acts as the owner (named) and reads in bulk: no `user:me`.
    Case {
        client: "cc",
        grant_type: "client-credentials",
        restricted: false,
        grant: Grant::ClientCredentials,
        filters: &[ORG],
        grant_claim: "client-credentials",
        name: Some("Named Person"),
    },
    Case {
        client: "cc-restricted",
        grant_type: "client-credentials",
        restricted: true,
        grant: Grant::ClientCredentials,
        filters: &[ORG],
        grant_claim: "client-credentials",
        name: Some("Named Person"),
    },
];

/// The users and every client of [`CASES`] (by name: id and secret), and a resource server
/// granted `introspect`.
struct Fixture {
    clients: std::collections::HashMap<&'static str, (String, String)>,
    introspector: (String, String),
}

async fn fixture(server: &TestServer<impl Store>) -> Fixture {
    for (username, name, staff) in [
        ("named", Some("Named Person"), true),
        ("nameless", None, false),
    ] {
        server
            .user_with(UserSpec {
                username: username.into(),
                email: format!("{username}@example.org"),
                name: name.map(Into::into),
                password: Some(Secret::new(format!("{username}-pw"))),
                staff,
                ..UserSpec::default()
            })
            .await;
    }
    let mut clients = std::collections::HashMap::new();
    for case in CASES {
        if clients.contains_key(case.client) {
            continue;
        }
        let saved = server
            .client(ClientSpec {
                name: case.client.into(),
                owner: "named".into(),
                grant_type: case.grant_type.into(),
                redirect_uris: vec![CB.into()],
                scopes: vec!["grades:read".into()],
                filters: vec![ORG.into()],
                restricted: case.restricted,
                ..ClientSpec::default()
            })
            .await;
        let secret = saved.secret.unwrap().expose().to_owned();
        clients.insert(case.client, (saved.client.id, secret));
    }
    let introspector = server
        .confidential_with("rs", "named", "client-credentials", &["introspect"])
        .await;
    Fixture {
        clients,
        introspector,
    }
}

/// Runs the case's grant at the token endpoint, as a JWT or an opaque token; the answer must
/// be 200 (a restricted client's opaque token included).
async fn issue(server: &TestServer<impl Store>, f: &Fixture, case: &Case, jwt: bool) -> Value {
    let (id, secret) = &f.clients[case.client];
    let mut form: Vec<(&str, String)> = match case.grant {
        Grant::Password(user) => password_form(user),
        Grant::Refresh(user) => {
            let first = token(server, (id, secret), password_form(user)).await;
            vec![
                ("grant_type", "refresh_token".into()),
                (
                    "refresh_token",
                    first["refresh_token"].as_str().unwrap().into(),
                ),
            ]
        }
        Grant::Code(user) => vec![
            ("grant_type", "authorization_code".into()),
            ("code", code(server, id, user).await),
            ("redirect_uri", CB.into()),
        ],
        Grant::ClientCredentials => vec![("grant_type", "client_credentials".into())],
    };
    if jwt {
        form.push(("token_type", "jwt".into()));
    }
    token(server, (id, secret), form).await
}

fn password_form(user: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "password".into()),
        ("username", user.into()),
        ("password", format!("{user}-pw")),
    ]
}

async fn token(
    server: &TestServer<impl Store>,
    (id, secret): (&str, &str),
    form: Vec<(&str, String)>,
) -> Value {
    let (status, body) = send(
        http()
            .post(server.url("/oauth2/access_token"))
            .basic_auth(id, Some(secret))
            .form(&form),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A code for `client_id`, consented to by `username`, as the authorization endpoint issues it.
async fn code(server: &TestServer<impl Store>, client_id: &str, username: &str) -> String {
    let user = server.store.user_by_login(username).await.unwrap().unwrap();
    let auth = server
        .tokens
        .authorize(AuthorizeRequest {
            response_type: Some("code".into()),
            client_id: Some(client_id.into()),
            redirect_uri: Some(CB.into()),
            scope: Some("email profile".into()),
            ..AuthorizeRequest::default()
        })
        .await
        .unwrap();
    let now = now();
    let consented = server
        .tokens
        .grant_consent(&auth, &user, now)
        .await
        .unwrap();
    let code = server
        .tokens
        .issue_code(&consented, now, now)
        .await
        .unwrap();
    code.expose().to_owned()
}

fn claims(server: &TestServer<impl Store>, jwt: &str) -> AccessClaims {
    let ring = server.tokens.keys().current();
    let v = latchkey_token::Validation::new(server.issuer(), "latchkey");
    latchkey_token::verify(jwt, &ring.verifying, &v, now()).unwrap()
}

/// The JWT's payload as sent, to see `null` where it is `null`.
fn payload(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn introspect(server: &TestServer<impl Store>, f: &Fixture, token: &str) -> Value {
    let (id, secret) = &f.introspector;
    let (status, body) = send(
        http()
            .post(server.url("/oauth2/introspect"))
            .basic_auth(id, Some(secret))
            .form(&[("token", token)]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn jwt_claims_follow_open_edx_per_grant_and_client<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    for case in CASES {
        let what = format!("{} {:?}", case.client, case.grant);
        let body = issue(&server, &f, case, true).await;
        assert_eq!(body["token_type"], "JWT", "{what}");
        assert_eq!(
            body["expires_in"], 3600,
            "{what}: a restricted JWT is not expired"
        );
        let jwt = body["access_token"].as_str().unwrap();
        let c = claims(&server, jwt);
        assert_eq!(c.filters, case.filters, "{what}");
        assert_eq!(c.is_restricted, case.restricted, "{what}");
        assert_eq!(c.grant_type, case.grant_claim, "{what}");
        assert_eq!(c.client_id, f.clients[case.client].0, "{what}");
        let name = case.name.map(String::from);
        assert_eq!(c.name, Some(name.clone()), "{what}");
        let raw = payload(jwt);
        assert_eq!(raw["name"], name.map_or(Value::Null, Value::from), "{what}");
        assert!(raw.as_object().unwrap().contains_key("name"), "{what}");
        // Given and family names stay strings, as Open edX sends `first_name`/`last_name`.
        assert_eq!(raw["given_name"], "", "{what}");
        assert_eq!(
            raw["administrator"],
            c.preferred_username == "named",
            "{what}"
        );
        let seen = introspect(&server, &f, jwt).await;
        assert_eq!(seen["active"], true, "{what}");
        assert_eq!(seen["filters"], serde_json::json!(case.filters), "{what}");
    }
}

async fn a_restricted_clients_opaque_token_is_expired_when_issued<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    for case in CASES {
        let what = format!("{} {:?}", case.client, case.grant);
        let before = now();
        let body = issue(&server, &f, case, false).await;
        let after = now();
        assert_eq!(body["token_type"], "Bearer", "{what}");
        let access = body["access_token"].as_str().unwrap();
        let expires_in = body["expires_in"].as_i64().unwrap();
        let seen = introspect(&server, &f, access).await;
        if case.restricted {
            // Expired at the epoch: `expires_in` is minus the time of issue, as Open edX's
            // (a float of seconds there, whole seconds here).
            assert!(
                (-after..=-before).contains(&expires_in),
                "{what}: {expires_in}"
            );
            assert_eq!(seen, serde_json::json!({"active": false}), "{what}");
            let (status, _) = send(
                http()
                    .get(server.url("/oauth2/userinfo"))
                    .bearer_auth(access),
            )
            .await;
            assert_eq!(status, 401, "{what}: no API takes it");
        } else {
            assert_eq!(expires_in, 36_000, "{what}");
            assert_eq!(seen["active"], true, "{what}");
            assert_eq!(seen["filters"], serde_json::json!(case.filters), "{what}");
            assert_eq!(seen["is_restricted"], false, "{what}");
        }
        // The grants that give a refresh token still give one: it is what a restricted
        // client refreshes with.
        let refreshes = !matches!(case.grant, Grant::ClientCredentials);
        assert_eq!(body["refresh_token"].is_string(), refreshes, "{what}");
    }
}

latchkey_testkit::on_both_backends! {
    jwt_claims_follow_open_edx_per_grant_and_client,
    a_restricted_clients_opaque_token_is_expired_when_issued,
}
