//! `GET/POST /oauth2/authorize` over real HTTP, as a browser with its cookies meets it: the login
//! page first and back, the consent page, allow and deny, remembered consent, the CSRF check of
//! the consent form, and errors on our page or at the client, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use latchkey_core::admin::ClientSpec;
use latchkey_core::store::Store;
use latchkey_testkit::browser::Browser;
use latchkey_testkit::{on_both_backends, TestServer};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use reqwest::{Method, Url};
use std::sync::OnceLock;

const CB: &str = "https://partner.example.org/cb";
const VERIFIER: &str = "the-verifier-of-this-browser-flow-43-chars-at-least";

fn assert_secure_headers(headers: &reqwest::header::HeaderMap, what: &str) {
    let h = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(h("cache-control").as_deref(), Some("no-store"), "{what}");
    assert_eq!(
        h("referrer-policy").as_deref(),
        Some("no-referrer"),
        "{what}"
    );
    let csp = h("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
}

/// alice (password "alice-pw"); a public client "Partner App" (content_org:MITx) and a
/// first-party one that skips authorization, both with the redirect URI [`CB`].
async fn fixture(server: &TestServer<impl Store>) -> (String, String) {
    server.user("alice", "alice-pw").await;
    let client = |name: &str, skip: bool| ClientSpec {
        name: name.into(),
        owner: "alice".into(),
        grant_type: "authorization-code".into(),
        public: true,
        redirect_uris: vec![CB.into()],
        filters: vec!["content_org:MITx".into()],
        skip_authorization: skip,
        ..ClientSpec::default()
    };
    let partner = server.client(client("Partner App", false)).await.client.id;
    let first_party = server.client(client("Studio", true)).await.client.id;
    (partner, first_party)
}

/// The authorization request's parameters for `client_id`, with PKCE.
fn params(client_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", client_id.into()),
        ("redirect_uri", CB.into()),
        ("scope", "openid email profile".into()),
        ("state", "xyz 1".into()),
        (
            "code_challenge",
            URL_SAFE_NO_PAD.encode(digest(&SHA256, VERIFIER.as_bytes())),
        ),
        ("code_challenge_method", "S256".into()),
        ("nonce", "n1".into()),
    ]
}

fn path_of(params: &[(&str, String)]) -> String {
    let url = Url::parse_with_params("http://x/oauth2/authorize", params).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap())
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The value of `name`'s first `?name=value` in `url`.
fn query_value(url: &str, name: &str) -> Option<String> {
    let url = Url::parse(url).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The hidden CSRF field of a page.
fn csrf_field(html: &str) -> String {
    let marker = "name=\"csrfmiddlewaretoken\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Posts the consent form with `decision`, as the page's button does.
async fn decide(
    browser: &mut Browser,
    client_id: &str,
    csrf: Option<&str>,
    decision: &str,
) -> reqwest::Response {
    let mut form = params(client_id);
    form.push(("decision", decision.into()));
    if let Some(token) = csrf {
        form.push(("csrfmiddlewaretoken", token.into()));
    }
    let request = browser
        .request(Method::POST, "/oauth2/authorize")
        .header("accept", "text/html")
        .form(&form);
    browser.send(request).await.unwrap()
}

async fn exchange(server: &TestServer<impl Store>, client_id: &str, code: &str) -> u16 {
    reqwest::Client::new()
        .post(server.url("/oauth2/access_token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
            ("client_id", client_id),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn the_login_page_comes_first_then_consent_then_the_code<S: Store>(server: TestServer<S>) {
    let (partner, _) = fixture(&server).await;
    let mut browser = Browser::new(&server.base);
    let path = path_of(&params(&partner));
    let first = browser.get_page(&path).await.unwrap();
    assert_eq!(first.status(), 302);
    assert_secure_headers(first.headers(), "to the login page");
    let to_login = location(&first);
    let next = query_value(&format!("http://x{to_login}"), "next").unwrap();
    assert!(to_login.starts_with("/login?"), "{to_login}");
    assert_eq!(next, path, "the login page leads back to this very request");

    assert_eq!(
        browser
            .log_in("alice", "alice-pw", false)
            .await
            .unwrap()
            .status(),
        302
    );
    let consent = browser.get_page(&next).await.unwrap();
    assert_eq!(consent.status(), 200);
    assert_secure_headers(consent.headers(), "consent page");
    let html = consent.text().await.unwrap();
    for words in [
        "Partner App",
        "see your email address",
        "know who you are",
        "MITx",
        "alice",
    ] {
        assert!(html.contains(words), "{words} missing from {html}");
    }
    let csrf = csrf_field(&html);

    let allowed = decide(&mut browser, &partner, Some(&csrf), "allow").await;
    assert_eq!(allowed.status(), 302);
    assert_secure_headers(allowed.headers(), "redirect with a code");
    let back = location(&allowed);
    assert!(back.starts_with(&format!("{CB}?code=")), "{back}");
    assert_eq!(query_value(&back, "state").as_deref(), Some("xyz 1"));
    let code = query_value(&back, "code").unwrap();
    assert_eq!(exchange(&server, &partner, &code).await, 200);

    // Remembered: the same request now goes straight back with a new code.
    let again = browser.get_page(&path).await.unwrap();
    assert_eq!(again.status(), 302);
    let back = location(&again);
    let second = query_value(&back, "code").unwrap();
    assert_ne!(second, code);
    assert_eq!(exchange(&server, &partner, &second).await, 200);
}

async fn deny_goes_back_with_access_denied_and_the_state<S: Store>(server: TestServer<S>) {
    let (partner, _) = fixture(&server).await;
    let mut browser = Browser::new(&server.base);
    browser.log_in("alice", "alice-pw", false).await.unwrap();
    let page = browser.get_page(&path_of(&params(&partner))).await.unwrap();
    let csrf = csrf_field(&page.text().await.unwrap());
    let denied = decide(&mut browser, &partner, Some(&csrf), "deny").await;
    assert_eq!(denied.status(), 302);
    let back = location(&denied);
    assert_eq!(
        query_value(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_value(&back, "state").as_deref(), Some("xyz 1"));
    assert!(query_value(&back, "code").is_none());
    // Nothing remembered: the next visit asks again.
    let page = browser.get_page(&path_of(&params(&partner))).await.unwrap();
    assert_eq!(page.status(), 200);
}

async fn the_consent_form_needs_its_csrf_token<S: Store>(server: TestServer<S>) {
    let (partner, _) = fixture(&server).await;
    let mut browser = Browser::new(&server.base);
    browser.log_in("alice", "alice-pw", false).await.unwrap();
    for csrf in [None, Some("0123456789abcdefghijklmnopqrstuv")] {
        let refused = decide(&mut browser, &partner, csrf, "allow").await;
        assert_eq!(refused.status(), 403, "{csrf:?}");
        assert!(refused.headers().get("location").is_none());
    }
    let page = browser.get_page(&path_of(&params(&partner))).await.unwrap();
    assert_eq!(page.status(), 200, "nothing was granted");
}

async fn a_first_party_client_skips_the_question<S: Store>(server: TestServer<S>) {
    let (_, studio) = fixture(&server).await;
    let mut browser = Browser::new(&server.base);
    browser.log_in("alice", "alice-pw", false).await.unwrap();
    let r = browser.get_page(&path_of(&params(&studio))).await.unwrap();
    assert_eq!(r.status(), 302);
    let code = query_value(&location(&r), "code").unwrap();
    assert_eq!(exchange(&server, &studio, &code).await, 200);
}

async fn untrusted_requests_stay_on_our_page_others_go_back<S: Store>(server: TestServer<S>) {
    let (partner, _) = fixture(&server).await;
    let mut browser = Browser::new(&server.base);
    browser.log_in("alice", "alice-pw", false).await.unwrap();
    let with = |name: &'static str, value: &str| {
        let mut p = params(&partner);
        p.retain(|(k, _)| *k != name);
        p.push((name, value.to_owned()));
        path_of(&p)
    };
    for (what, path) in [
        ("unknown client", with("client_id", "nobody")),
        ("extra path", with("redirect_uri", &format!("{CB}/x"))),
        ("extra query", with("redirect_uri", &format!("{CB}?x=1"))),
        (
            "another site",
            with("redirect_uri", "https://evil.example.com/cb"),
        ),
        (
            "parameter twice",
            format!("{}&state=again", path_of(&params(&partner))),
        ),
    ] {
        let r = browser.get_page(&path).await.unwrap();
        assert_eq!(r.status(), 400, "{what}");
        assert!(
            r.headers().get("location").is_none(),
            "{what}: never redirected"
        );
        assert_secure_headers(r.headers(), what);
        let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/html"), "{what}: {kind}");
    }
    let r = browser
        .get_page(&with("response_type", "token"))
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let back = location(&r);
    assert!(back.starts_with(CB), "{back}");
    assert_eq!(
        query_value(&back, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(query_value(&back, "state").as_deref(), Some("xyz 1"));
    let r = browser
        .get_page(&with("code_challenge_method", "plain"))
        .await
        .unwrap();
    assert_eq!(
        query_value(&location(&r), "error").as_deref(),
        Some("invalid_request")
    );
}

/// The process-wide recorder (one per test binary, shared by its tests).
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().unwrap())
}

/// The consent decisions counted so far as `decision`.
fn decisions(decision: &str) -> u64 {
    let prefix = format!("latchkey_consent_decisions_total{{decision=\"{decision}\"}}");
    recorder()
        .render()
        .lines()
        .find(|l| l.starts_with(&prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn consent_decisions_are_counted<S: Store>(server: TestServer<S>) {
    recorder();
    let (partner, studio) = fixture(&server).await;
    let before = ["allow", "deny", "remembered", "skipped"].map(decisions);
    let mut browser = Browser::new(&server.base);
    browser.log_in("alice", "alice-pw", false).await.unwrap();
    let page = browser.get_page(&path_of(&params(&partner))).await.unwrap();
    let csrf = csrf_field(&page.text().await.unwrap());
    decide(&mut browser, &partner, Some(&csrf), "deny").await;
    decide(&mut browser, &partner, Some(&csrf), "allow").await;
    browser.get_page(&path_of(&params(&partner))).await.unwrap();
    browser.get_page(&path_of(&params(&studio))).await.unwrap();
    let after = ["allow", "deny", "remembered", "skipped"].map(decisions);
    // Other tests in this binary count too: at least ours.
    for (i, what) in ["allow", "deny", "remembered", "skipped"]
        .iter()
        .enumerate()
    {
        assert!(after[i] > before[i], "{what}: {}", recorder().render());
    }
}

on_both_backends! {
    consent_decisions_are_counted,
    the_login_page_comes_first_then_consent_then_the_code,
    deny_goes_back_with_access_denied_and_the_state,
    the_consent_form_needs_its_csrf_token,
    a_first_party_client_skips_the_question,
    untrusted_requests_stay_on_our_page_others_go_back,
}
