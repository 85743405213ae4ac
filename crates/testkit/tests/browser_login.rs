//! The browser sign-in over real HTTP on both backends: `GET/POST /login` as a form and as JSON,
//! the session and JWT cookies and their attributes, `next` and its open-redirect attempts, bad
//! bodies, CSRF, `/login_refresh`, `/logout`, disabled users and idle sessions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::admin::UserSpec;
use latchkey_core::secret::Secret;
use latchkey_core::session::SessionSettings;
use latchkey_core::store::Store;
use latchkey_testkit::browser::{set_cookies, Browser};
use latchkey_testkit::{on_both_backends, test_settings, Settings, TestServer, MFE_ORIGIN};
use latchkey_token::AccessClaims;
use reqwest::{Method, Response};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery";
const BAD_CREDENTIALS: &str = "The username, email or password is incorrect.";

/// A JSON sign-in as an MFE sends it, with the CSRF token from the token endpoint.
async fn json_login(browser: &mut Browser, body: Value) -> Response {
    let token = browser.csrf_token().await;
    let request = browser
        .request(Method::POST, "/login")
        .header("x-csrftoken", token)
        .json(&body);
    browser.send(request).await.unwrap()
}

fn location(r: &Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The JWT the two cookies carry, reassembled and verified with the server's keys.
fn jwt_from(browser: &Browser, server: &TestServer<impl Store>) -> AccessClaims {
    let token = format!(
        "{}.{}",
        browser.jar["edx-jwt-cookie-header-payload"], browser.jar["edx-jwt-cookie-signature"]
    );
    let ring = server.tokens.keys().current();
    let validation = latchkey_token::Validation::new(server.issuer(), "latchkey");
    latchkey_token::verify(
        &token,
        &ring.verifying,
        &validation,
        latchkey_server::clock::now(),
    )
    .unwrap()
}

async fn session_count(server: &TestServer<impl Store>, username: &str) -> usize {
    let user = server.store.user_by_login(username).await.unwrap().unwrap();
    server.store.user_sessions(user.id).await.unwrap().len()
}

async fn the_login_page_is_a_form_with_its_csrf_field<S: Store>(server: TestServer<S>) {
    for path in ["/login", "/login/", "/login?next=/dashboard"] {
        let mut browser = Browser::new(&server.base);
        let r = browser.get_page(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        assert_eq!(h["cache-control"], "no-store");
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(set_cookies(h).contains_key("csrftoken"), "{path}");
        let html = r.text().await.unwrap();
        for needed in [
            "name=\"csrfmiddlewaretoken\"",
            "<label for=\"username\">",
            "<label for=\"password\">",
            "<label for=\"remember\">",
            "autocomplete=\"current-password\"",
            "name=\"viewport\"",
            "<main",
        ] {
            assert!(html.contains(needed), "{path}: {needed}");
        }
        assert!(!html.contains("<script"), "no JavaScript");
        assert_eq!(html.contains("value=\"/dashboard\""), path.contains("next"));
    }
    // An unsafe `next` is not even carried into the form.
    let mut browser = Browser::new(&server.base);
    let html = browser
        .get_page("/login?next=//evil.example")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("evil.example"));
}

async fn a_form_login_sets_the_session_and_jwt_cookies<S: Store>(server: TestServer<S>) {
    let alice = server.user("alice", PASSWORD).await;
    let mut browser = Browser::new(&server.base);
    let before = browser.csrf_token().await;
    let old_secret = browser.jar["csrftoken"].clone();
    let r = browser.log_in("alice", PASSWORD, false).await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "/");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let set = set_cookies(r.headers());
    let session = &set["sessionid"];
    assert!(session.has("httponly") && !session.has("secure"));
    assert_eq!(session.attribute("samesite"), Some("Lax"));
    assert_eq!(session.attribute("path"), Some("/"));
    assert_eq!(
        session.attribute("max-age"),
        None,
        "a browser-session cookie"
    );
    assert_eq!(session.value.len(), 43);
    let payload = &set["edx-jwt-cookie-header-payload"];
    let signature = &set["edx-jwt-cookie-signature"];
    assert!(!payload.has("httponly"), "JavaScript reads the payload");
    assert!(signature.has("httponly"), "and never the signature");
    for c in [payload, signature] {
        assert_eq!(c.attribute("path"), Some("/"));
        assert_eq!(c.attribute("samesite"), Some("Lax"));
        assert_eq!(c.attribute("max-age"), Some("3600"));
    }
    assert_eq!(payload.value.matches('.').count(), 1);
    assert_ne!(
        set["csrftoken"].value, old_secret,
        "the CSRF secret rotates"
    );
    assert!(!before.is_empty());

    let claims = jwt_from(&browser, &server);
    assert_eq!(claims.grant_type, "password");
    assert_eq!(claims.filters, ["user:me"]);
    assert_eq!(claims.scopes, ["user_id", "email", "profile"]);
    assert_eq!(claims.client_id, "login-service-client-id");
    assert_eq!(claims.preferred_username, "alice");
    assert_eq!(claims.user_id, Some(alice.id.0));
    assert_eq!(claims.email.as_deref(), Some("alice@example.org"));
    assert_eq!(claims.exp - claims.iat, 3600);
    assert_eq!(session_count(&server, "alice").await, 1);

    // "Remember me": the session cookie lasts 14 days.
    let mut other = Browser::new(&server.base);
    let r = other
        .log_in("alice@EXAMPLE.org", PASSWORD, true)
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "by email, in any case");
    let set = set_cookies(r.headers());
    assert_eq!(set["sessionid"].attribute("max-age"), Some("1209600"));
    // Signed in already: the page goes straight on.
    let r = other.get_page("/login?next=/courses").await.unwrap();
    assert_eq!(
        (r.status().as_u16(), location(&r)),
        (302, "/courses".into())
    );
}

async fn a_json_login_answers_success_and_the_redirect<S: Store>(server: TestServer<S>) {
    server.user("bob", PASSWORD).await;
    let mut browser = Browser::new(&server.base);
    let r = json_login(
        &mut browser,
        json!({"username": "bob", "password": PASSWORD, "remember": true, "next": "/dashboard"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(set_cookies(r.headers()).contains_key("edx-jwt-cookie-signature"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"success": true, "redirect_url": "/dashboard"}));

    // A form from a script that does not ask for HTML gets JSON too (frontend-platform).
    let mut script = Browser::new(&server.base);
    let token = script.csrf_token().await;
    let request = script
        .request(Method::POST, "/login/")
        .header("accept", "application/json, text/plain, */*")
        .header("x-csrftoken", token)
        .form(&[
            ("username", "bob"),
            ("password", PASSWORD),
            ("remember", "true"),
        ]);
    let r = script.send(request).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"success": true, "redirect_url": "/"}));
}

async fn failures_never_say_whether_an_account_exists<S: Store>(server: TestServer<S>) {
    server.user("carol", PASSWORD).await;
    server.user("dana", PASSWORD).await;
    server
        .store
        .set_user_disabled("dana", true, latchkey_server::clock::now())
        .await
        .unwrap();
    server
        .user_with(UserSpec {
            username: "erin".into(),
            email: "erin@example.org".into(),
            password: Some(Secret::new(PASSWORD)),
            unverified: true,
            ..UserSpec::default()
        })
        .await;
    let mut answers = Vec::new();
    for (login, password) in [
        ("carol", "wrong password"),
        ("nobody", PASSWORD),
        ("dana", PASSWORD),
    ] {
        let mut browser = Browser::new(&server.base);
        let r = json_login(
            &mut browser,
            json!({"username": login, "password": password}),
        )
        .await;
        assert_eq!(r.status(), 400, "{login}");
        assert!(
            !set_cookies(r.headers()).contains_key("sessionid"),
            "{login}"
        );
        answers.push(r.json::<Value>().await.unwrap());
    }
    assert_eq!(
        answers[0],
        json!({"success": false, "error": BAD_CREDENTIALS})
    );
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(session_count(&server, "dana").await, 0);

    // The form comes back with the error, the login kept and the password not.
    let mut browser = Browser::new(&server.base);
    let r = browser
        .log_in("carol", "wrong password", false)
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains(BAD_CREDENTIALS) && html.contains("role=\"alert\""));
    assert!(html.contains("value=\"carol\"") && !html.contains("wrong password"));

    // Unverified is not disabled: Erin signs in, and her token says so.
    let mut browser = Browser::new(&server.base);
    let r = browser.log_in("erin", PASSWORD, false).await.unwrap();
    assert_eq!(r.status(), 302);
    assert!(!jwt_from(&browser, &server).email_verified);
}

async fn open_redirects_on_next_are_ignored<S: Store>(server: TestServer<S>) {
    server.user("frank", PASSWORD).await;
    for (next, expected) in [
        ("/dashboard?tab=1", "/dashboard?tab=1"),
        (
            "/oauth2/authorize?client_id=x&state=y",
            "/oauth2/authorize?client_id=x&state=y",
        ),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("\\\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/\r\nSet-Cookie: x=y", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example", "/"),
        ("", "/"),
    ] {
        let mut browser = Browser::new(&server.base);
        let r = json_login(
            &mut browser,
            json!({"username": "frank", "password": PASSWORD, "next": next}),
        )
        .await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["redirect_url"], expected, "JSON, next = {next:?}");
        let mut browser = Browser::new(&server.base);
        let token = browser.csrf_token().await;
        let request = browser
            .request(Method::POST, "/login")
            .header("accept", "text/html")
            .form(&[
                ("username", "frank"),
                ("password", PASSWORD),
                ("next", next),
                ("csrfmiddlewaretoken", token.as_str()),
            ]);
        let r = browser.send(request).await.unwrap();
        assert_eq!(
            (r.status().as_u16(), location(&r)),
            (302, expected.into()),
            "{next:?}"
        );
    }
}

async fn bad_login_bodies_are_refused_and_start_nothing<S: Store>(server: TestServer<S>) {
    server.user("gina", PASSWORD).await;
    let mut browser = Browser::new(&server.base);
    let token = browser.csrf_token().await;
    let long = "a".repeat(17 * 1024);
    let cases: Vec<(&str, &str, String, u16)> = vec![
        (
            "oversized form",
            "application/x-www-form-urlencoded",
            format!("username=gina&password={long}"),
            413,
        ),
        (
            "oversized JSON",
            "application/json",
            format!("{{\"username\":\"gina\",\"password\":\"{long}\"}}"),
            413,
        ),
        (
            "malformed JSON",
            "application/json",
            "{\"username\": \"gina\",".into(),
            400,
        ),
        (
            "JSON of the wrong shape",
            "application/json",
            "[\"gina\", \"pw\"]".into(),
            400,
        ),
        (
            "a field twice",
            "application/x-www-form-urlencoded",
            format!("username=nobody&username=gina&password={PASSWORD}"),
            400,
        ),
        (
            "a password that is not a string",
            "application/json",
            "{\"username\": \"gina\", \"password\": 12}".into(),
            400,
        ),
        (
            "no password",
            "application/x-www-form-urlencoded",
            "username=gina".into(),
            400,
        ),
        (
            "no body",
            "application/x-www-form-urlencoded",
            String::new(),
            400,
        ),
        (
            "plain text",
            "text/plain",
            format!("username=gina&password={PASSWORD}"),
            400,
        ),
        (
            "an over-long login",
            "application/json",
            format!(
                "{{\"username\":\"{}\",\"password\":\"x\"}}",
                "g".repeat(300)
            ),
            400,
        ),
    ];
    for (what, content_type, body, status) in cases {
        let request = browser
            .request(Method::POST, "/login")
            .header("x-csrftoken", &token)
            .header("content-type", content_type)
            .body(body);
        let r = browser.send(request).await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{what}");
        assert!(
            !set_cookies(r.headers()).contains_key("sessionid"),
            "{what}"
        );
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(body.is_object(), "{what}: a JSON answer");
    }
    assert_eq!(session_count(&server, "gina").await, 0);
}

async fn csrf_is_required_on_login_and_logout<S: Store>(server: TestServer<S>) {
    server.user("hugo", PASSWORD).await;
    let mut browser = Browser::new(&server.base);
    let token = browser.csrf_token().await;
    let secret = browser.jar["csrftoken"].clone();
    let mut stranger = Browser::new(&server.base);
    let foreign = stranger.csrf_token().await;
    let form = |t: Option<&str>| {
        let mut f = vec![
            ("username", "hugo".to_owned()),
            ("password", PASSWORD.to_owned()),
        ];
        if let Some(t) = t {
            f.push(("csrfmiddlewaretoken", t.to_owned()));
        }
        f
    };
    struct Case {
        what: &'static str,
        keep_cookie: bool,
        form_token: Option<String>,
        header_token: Option<String>,
        origin: Option<&'static str>,
    }
    let case = |what, keep_cookie, form_token: Option<&str>| Case {
        what,
        keep_cookie,
        form_token: form_token.map(str::to_owned),
        header_token: None,
        origin: None,
    };
    let cases = [
        case("no token", true, None),
        case("no cookie", false, Some(&token)),
        case("another browser's token", true, Some(&foreign)),
        Case {
            header_token: Some("x".repeat(64)),
            ..case("a wrong header", true, None)
        },
        case(
            "a malformed token",
            true,
            Some(&format!("{}!", &token[..63])),
        ),
        Case {
            origin: Some("https://evil.example"),
            ..case("a cross-site form", true, Some(&token))
        },
    ];
    for c in cases {
        let mut b = Browser::new(&server.base);
        if c.keep_cookie {
            b.jar.insert("csrftoken".into(), secret.clone());
        }
        let mut request = b
            .request(Method::POST, "/login")
            .header("accept", "text/html")
            .form(&form(c.form_token.as_deref()));
        if let Some(h) = c.header_token {
            request = request.header("x-csrftoken", h);
        }
        if let Some(o) = c.origin {
            request = request.header("origin", o);
        }
        let what = c.what;
        let r = b.send(request).await.unwrap();
        assert_eq!(r.status(), 403, "{what}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(r.text().await.unwrap().contains("CSRF"), "{what}");
        assert!(!b.jar.contains_key("sessionid"), "{what}");
    }
    // A script is refused in JSON.
    let mut b = Browser::new(&server.base);
    let r = b
        .send(
            b.request(Method::POST, "/login")
                .json(&json!({"username": "hugo", "password": PASSWORD})),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "access_denied");
    // The bare secret is a token too (Django accepts both), and our pages' `Origin: null` passes.
    let mut b = Browser::new(&server.base);
    b.jar.insert("csrftoken".into(), secret.clone());
    let request = b
        .request(Method::POST, "/login")
        .header("accept", "text/html")
        .header("origin", "null")
        .form(&form(Some(&secret)));
    assert_eq!(b.send(request).await.unwrap().status(), 302);
    // Logout without the token leaves the session alone.
    let r = b
        .send(
            b.request(Method::POST, "/logout")
                .header("origin", "https://evil.example"),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(session_count(&server, "hugo").await, 1);
}

async fn login_refresh_renews_the_cookies_only_with_a_session<S: Store>(server: TestServer<S>) {
    server.user("iris", PASSWORD).await;
    let mut browser = Browser::new(&server.base);
    browser.log_in("iris", PASSWORD, false).await.unwrap();
    let first = jwt_from(&browser, &server);
    // CSRF-exempt, as in Open edX: no token sent. An MFE calls it across origins with
    // credentials and may read the answer.
    let r = browser
        .send(
            browser
                .request(Method::POST, "/login_refresh")
                .header("origin", MFE_ORIGIN)
                .header("use-jwt-cookie", "true"),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], MFE_ORIGIN);
    assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let set = set_cookies(r.headers());
    assert!(set["edx-jwt-cookie-signature"].has("httponly"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["expires_in"], 3600);
    let now = latchkey_server::clock::now();
    let expires = body["expires_epoch_seconds"].as_i64().unwrap();
    assert!((now + 3595..=now + 3600).contains(&expires), "{body}");
    let second = jwt_from(&browser, &server);
    assert_ne!(first.jti, second.jti, "a fresh JWT");
    assert_eq!(second.exp, expires);

    // No session: 401, and the JWT cookies go.
    let mut stranger = Browser::new(&server.base);
    stranger.jar = browser.jar.clone();
    stranger
        .jar
        .insert("sessionid".into(), "not-a-session".into());
    let r = stranger
        .send(stranger.request(Method::POST, "/login_refresh/"))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let set = set_cookies(r.headers());
    for name in ["edx-jwt-cookie-header-payload", "edx-jwt-cookie-signature"] {
        assert!(set[name].deletes(), "{name}");
    }
    assert!(!stranger.jar.contains_key("edx-jwt-cookie-signature"));
}

/// Is `token` active, as a resource server's introspection would see it?
async fn active(server: &TestServer<impl Store>, client: &(String, String), token: &str) -> bool {
    let r = reqwest::Client::new()
        .post(server.url("/oauth2/introspect"))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    r.json::<Value>().await.unwrap()["active"] == true
}

async fn logout_ends_the_session_and_deletes_every_cookie<S: Store>(server: TestServer<S>) {
    server.user("jack", PASSWORD).await;
    let resource_server = server
        .confidential_with("rs", "jack", "client_credentials", &["introspect"])
        .await;
    for json in [false, true] {
        let mut browser = Browser::new(&server.base);
        browser.log_in("jack", PASSWORD, true).await.unwrap();
        let session = browser.jar["sessionid"].clone();
        let jwt = format!(
            "{}.{}",
            browser.jar["edx-jwt-cookie-header-payload"], browser.jar["edx-jwt-cookie-signature"]
        );
        assert!(active(&server, &resource_server, &jwt).await);
        let token = browser.csrf_token().await;
        let mut request = browser
            .request(Method::POST, "/logout")
            .header("x-csrftoken", token);
        if !json {
            request = request.header("accept", "text/html");
        }
        let r = browser.send(request).await.unwrap();
        let set = set_cookies(r.headers());
        if json {
            assert_eq!(r.status(), 200);
        } else {
            assert_eq!((r.status().as_u16(), location(&r)), (302, "/login".into()));
        }
        for name in [
            "sessionid",
            "csrftoken",
            "edx-jwt-cookie-header-payload",
            "edx-jwt-cookie-signature",
        ] {
            assert!(set.get(name).is_some_and(|c| c.deletes()), "{name}");
        }
        assert!(browser.jar.is_empty(), "{:?}", browser.jar);
        assert!(
            !active(&server, &resource_server, &jwt).await,
            "the session's JWT is revoked"
        );
        // The old cookie is worth nothing now.
        let mut replay = Browser::new(&server.base);
        replay.jar.insert("sessionid".into(), session);
        let r = replay
            .send(replay.request(Method::POST, "/login_refresh"))
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    assert_eq!(session_count(&server, "jack").await, 0);
}

async fn a_disabled_users_session_cookie_is_refused<S: Store>(server: TestServer<S>) {
    server.user("kate", PASSWORD).await;
    let mut browser = Browser::new(&server.base);
    browser.log_in("kate", PASSWORD, true).await.unwrap();
    server
        .store
        .set_user_disabled("kate", true, latchkey_server::clock::now())
        .await
        .unwrap();
    let r = browser
        .send(browser.request(Method::POST, "/login_refresh"))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = browser.get_page("/login").await.unwrap();
    assert_eq!(r.status(), 200, "the form again, not a redirect");
}

fn short_idle() -> Settings {
    Settings {
        sessions: SessionSettings {
            idle: 1,
            remember: 3600,
            touch_interval: 0,
        },
        ..test_settings()
    }
}

async fn an_idle_session_is_refused<S: Store>(server: TestServer<S>) {
    server.user("liam", PASSWORD).await;
    let mut browser = Browser::new(&server.base);
    browser.log_in("liam", PASSWORD, false).await.unwrap();
    let refresh = |b: &Browser| b.request(Method::POST, "/login_refresh");
    assert_eq!(browser.send(refresh(&browser)).await.unwrap().status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(browser.send(refresh(&browser)).await.unwrap().status(), 401);
}

fn strict_throttle() -> Settings {
    let mut settings = test_settings();
    settings.throttle.account_failures = 2;
    settings
}

async fn a_throttled_login_keeps_429_and_retry_after<S: Store>(server: TestServer<S>) {
    server.user("mia", PASSWORD).await;
    let mut last = None;
    for _ in 0..4 {
        let mut browser = Browser::new(&server.base);
        last = Some(json_login(&mut browser, json!({"username": "mia", "password": "nope"})).await);
    }
    let r = last.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["success"], false);
}

/// A sign-in without `next` lands on `/`: who is signed in, and a way out; a stranger is sent to
/// the sign-in page.
async fn the_home_page_names_the_signed_in_user<S: Store>(server: TestServer<S>) {
    server.user("carol", PASSWORD).await;
    let mut browser = Browser::new(&server.base);
    let r = browser.get_page("/").await.unwrap();
    assert_eq!((r.status().as_u16(), location(&r)), (302, "/login".into()));
    let r = browser.log_in("carol", PASSWORD, false).await.unwrap();
    assert_eq!(location(&r), "/");
    let r = browser.get_page("/").await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(r#"<strong id="signed-in-as">carol</strong>"#),
        "{html}"
    );
    assert!(html.contains(r#"action="/logout""#) && html.contains("csrfmiddlewaretoken"));
}

on_both_backends!(
    the_home_page_names_the_signed_in_user,
    the_login_page_is_a_form_with_its_csrf_field,
    a_form_login_sets_the_session_and_jwt_cookies,
    a_json_login_answers_success_and_the_redirect,
    failures_never_say_whether_an_account_exists,
    open_redirects_on_next_are_ignored,
    bad_login_bodies_are_refused_and_start_nothing,
    csrf_is_required_on_login_and_logout,
    login_refresh_renews_the_cookies_only_with_a_session,
    logout_ends_the_session_and_deletes_every_cookie,
    a_disabled_users_session_cookie_is_refused,
    an_idle_session_is_refused => short_idle(),
    a_throttled_login_keeps_429_and_retry_after => strict_throttle(),
);
