//! `POST /oauth2/login/`: a mobile app's access token becomes a WebView session, as Open edX's
//! `LoginWithAccessTokenView`: password-grant tokens only (JWT, or a legacy opaque Bearer token),
//! never for a disabled user or one without a usable password.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::admin::UserSpec;
use latchkey_core::store::Store;
use latchkey_testkit::browser::{set_cookies, Browser};
use latchkey_testkit::{on_both_backends, TestServer};
use reqwest::Method;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

/// An access token from the token endpoint: the password grant, or client credentials.
async fn token(server: &TestServer<impl Store>, form: &[(&str, &str)]) -> String {
    let r = reqwest::Client::new()
        .post(server.url("/oauth2/access_token"))
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn exchange(
    server: &TestServer<impl Store>,
    authorization: Option<&str>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new().post(server.url("/oauth2/login/"));
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    request.send().await.unwrap()
}

async fn error_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["error_code"].as_str().unwrap_or("").to_owned())
}

async fn password_grant_tokens_become_a_session<S: Store>(server: TestServer<S>) {
    server.user("nora", PASSWORD).await;
    let (id, secret) = server.confidential("mobile", "nora", "password").await;
    let password = |format: &'static str| {
        let (id, secret) = (id.clone(), secret.clone());
        let server = &server;
        async move {
            token(
                server,
                &[
                    ("grant_type", "password"),
                    ("username", "nora"),
                    ("password", PASSWORD),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("token_type", format),
                ],
            )
            .await
        }
    };
    let jwt = password("jwt").await;
    let opaque = password("bearer").await;
    for authorization in [
        format!("JWT {jwt}"),
        format!("Bearer {jwt}"),
        format!("Bearer {opaque}"),
    ] {
        let r = exchange(&server, Some(&authorization)).await;
        assert_eq!(r.status(), 204, "{authorization:.12}");
        let set = set_cookies(r.headers());
        let session = &set["sessionid"];
        assert!(session.has("httponly"));
        assert_eq!(session.attribute("samesite"), Some("Lax"));
        // The cookie is a live session: /login_refresh gives the WebView its JWT cookies.
        let mut browser = Browser::new(&server.base);
        browser
            .jar
            .insert("sessionid".into(), session.value.clone());
        let r = browser
            .send(browser.request(Method::POST, "/login_refresh"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

async fn other_tokens_are_not_supported<S: Store>(server: TestServer<S>) {
    let owner = server.user("olga", PASSWORD).await;
    let (id, secret) = server
        .confidential("backend", "olga", "client_credentials")
        .await;
    let cc = |format: &'static str| {
        let (id, secret) = (id.clone(), secret.clone());
        let server = &server;
        async move {
            token(
                server,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("token_type", format),
                ],
            )
            .await
        }
    };
    let service = server
        .tokens
        .mint_service_jwt(&owner, None, None, 300, latchkey_server::clock::now())
        .unwrap();
    for (what, authorization) in [
        ("client-credentials JWT", format!("JWT {}", cc("jwt").await)),
        (
            "client-credentials opaque",
            format!("Bearer {}", cc("bearer").await),
        ),
        ("service JWT", format!("JWT {service}")),
    ] {
        let r = exchange(&server, Some(&authorization)).await;
        assert_eq!(
            error_code(r).await,
            (401, "non_supported_token".into()),
            "{what}"
        );
    }
    for (what, authorization) in [
        ("no header", None),
        ("garbage JWT", Some("JWT a.b.c")),
        ("unknown opaque", Some("Bearer abcdefghijklmnop")),
        ("another scheme", Some("Basic dXNlcjpwdw==")),
        ("no token", Some("JWT ")),
    ] {
        let r = exchange(&server, authorization).await;
        assert!(
            !set_cookies(r.headers()).contains_key("sessionid"),
            "{what}"
        );
        assert_eq!(error_code(r).await, (401, "invalid_token".into()), "{what}");
    }
}

async fn disabled_users_and_users_without_a_password_get_no_session<S: Store>(
    server: TestServer<S>,
) {
    server.user("pia", PASSWORD).await;
    let (id, secret) = server.confidential("mobile", "pia", "password").await;
    let sign_in = [
        ("grant_type", "password"),
        ("username", "pia"),
        ("password", PASSWORD),
        ("client_id", &id),
        ("client_secret", &secret),
        ("token_type", "jwt"),
    ];
    // A revoked token of an enabled user opens nothing.
    let revoked = token(&server, &sign_in).await;
    let r = reqwest::Client::new()
        .post(server.url("/oauth2/revoke_token"))
        .form(&[
            ("token", revoked.as_str()),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = exchange(&server, Some(&format!("JWT {revoked}"))).await;
    assert_eq!(error_code(r).await, (401, "invalid_token".into()));

    // Disabling revokes every token of the user (the same second included); the app is told why.
    let jwt = token(&server, &sign_in).await;
    server
        .store
        .set_user_disabled("pia", true, latchkey_server::clock::now())
        .await
        .unwrap();
    let r = exchange(&server, Some(&format!("JWT {jwt}"))).await;
    assert_eq!(error_code(r).await, (401, "account_disabled".into()));

    // A user with no usable password (signs in through a provider only), holding a password-type
    // JWT: refused as Open edX refuses `has_usable_password() == False`.
    let quinn = server
        .user_with(UserSpec {
            username: "quinn".into(),
            email: "quinn@example.org".into(),
            ..UserSpec::default()
        })
        .await;
    let now = latchkey_server::clock::now();
    let jwt = server
        .tokens
        .session_jwt(&quinn, "login-service-client-id", 300, now)
        .unwrap();
    let r = exchange(&server, Some(&format!("JWT {}", jwt.token.expose()))).await;
    assert_eq!(error_code(r).await, (401, "account_disabled".into()));
}

on_both_backends!(
    password_grant_tokens_become_a_session,
    other_tokens_are_not_supported,
    disabled_users_and_users_without_a_password_get_no_session,
);
