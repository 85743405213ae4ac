//! The browser foundation over real HTTP: the CSRF token endpoint and its cookie, the security
//! headers, the stylesheet in the configured colours, and CORS for the configured MFE origin only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::store::Store;
use latchkey_testkit::browser::{set_cookies, Browser};
use latchkey_testkit::{on_both_backends, TestServer, MFE_ORIGIN};
use reqwest::Method;

fn assert_secure_headers(headers: &reqwest::header::HeaderMap, what: &str) {
    let h = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(h("cache-control").as_deref(), Some("no-store"), "{what}");
    assert_eq!(
        h("referrer-policy").as_deref(),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(
        h("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
    let csp = h("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
}

async fn the_csrf_endpoint_pairs_a_token_with_its_cookie<S: Store>(server: TestServer<S>) {
    let mut browser = Browser::new(&server.base);
    let first = browser
        .send(browser.request(Method::GET, "/csrf/api/v1/token"))
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    assert_secure_headers(first.headers(), "csrf token");
    let cookies = set_cookies(first.headers());
    let cookie = &cookies["csrftoken"];
    assert_eq!(cookie.value.len(), 32);
    assert!(!cookie.has("httponly"), "scripts read it");
    assert_eq!(cookie.attribute("samesite"), Some("Lax"));
    assert_eq!(cookie.attribute("path"), Some("/"));
    assert!(!cookie.has("secure"), "the test issuer is http");
    let body: serde_json::Value = first.json().await.unwrap();
    let token = body["csrfToken"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 64, "masked");
    // With the cookie: the same secret, masked afresh, and no new cookie.
    let second = browser
        .send(browser.request(Method::GET, "/csrf/api/v1/token/"))
        .await
        .unwrap();
    assert!(set_cookies(second.headers()).is_empty());
    let again: serde_json::Value = second.json().await.unwrap();
    assert_ne!(again["csrfToken"].as_str().unwrap(), token);
}

async fn the_stylesheet_has_the_configured_colours<S: Store>(server: TestServer<S>) {
    let r = reqwest::get(server.url("/static/latchkey.css"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    let css = r.text().await.unwrap();
    assert!(css.contains("#0a3d91"), "the default primary colour");
}

async fn cors_allows_the_configured_mfe_origin_only<S: Store>(server: TestServer<S>) {
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(Method::OPTIONS, server.url("/csrf/api/v1/token"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "use-jwt-cookie,x-csrftoken,content-type",
            )
            .send()
    };
    let allowed = preflight(MFE_ORIGIN).await.unwrap();
    let h = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
    };
    assert_eq!(
        h(&allowed, "access-control-allow-origin").as_deref(),
        Some(MFE_ORIGIN)
    );
    assert_eq!(
        h(&allowed, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    let headers = h(&allowed, "access-control-allow-headers").unwrap_or_default();
    for needed in ["use-jwt-cookie", "x-csrftoken", "content-type"] {
        assert!(headers.contains(needed), "{headers}");
    }
    assert!(h(&allowed, "vary").unwrap_or_default().contains("origin"));
    for refused in [
        "https://evil.example.net",
        "https://apps.example.org.evil.net",
        "http://apps.example.org",
        "null",
    ] {
        let r = preflight(refused).await.unwrap();
        assert_eq!(h(&r, "access-control-allow-origin"), None, "{refused}");
        assert_eq!(h(&r, "access-control-allow-credentials"), None, "{refused}");
    }
    // A simple request from the MFE gets the credentialed headers too, never `*`.
    let simple = http
        .get(server.url("/csrf/api/v1/token"))
        .header("origin", MFE_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        h(&simple, "access-control-allow-origin").as_deref(),
        Some(MFE_ORIGIN)
    );
}

on_both_backends!(
    the_csrf_endpoint_pairs_a_token_with_its_cookie,
    the_stylesheet_has_the_configured_colours,
    cors_allows_the_configured_mfe_origin_only,
);
