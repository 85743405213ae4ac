//! Sign-ins are counted for `/metrics` by method and outcome, the way the `latchkey serve`
//! recorder exports them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use latchkey_core::store::Store;
use latchkey_testkit::browser::Browser;
use latchkey_testkit::{on_both_backends, TestServer};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide recorder (one per test binary, shared by its tests).
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().unwrap())
}

/// The value of the counter line that starts with `prefix`, 0 if none.
fn counter(prefix: &str) -> u64 {
    recorder()
        .render()
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn sign_ins_are_counted_by_method_and_outcome<S: Store>(server: TestServer<S>) {
    recorder();
    server.user("ruth", "correct horse battery").await;
    let success = r#"latchkey_logins_total{method="password",outcome="success"}"#;
    let bad = r#"latchkey_logins_total{method="password",outcome="bad_credentials"}"#;
    let webview = r#"latchkey_logins_total{method="webview",outcome="no_token"}"#;
    let (s0, b0, w0) = (counter(success), counter(bad), counter(webview));
    let mut browser = Browser::new(&server.base);
    browser.log_in("ruth", "wrong", false).await.unwrap();
    browser
        .log_in("ruth", "correct horse battery", false)
        .await
        .unwrap();
    reqwest::Client::new()
        .post(server.url("/oauth2/login/"))
        .send()
        .await
        .unwrap();
    // Other tests in this binary count too: at least ours.
    assert!(counter(success) > s0, "{}", recorder().render());
    assert!(counter(bad) > b0);
    assert!(counter(webview) > w0);
}

on_both_backends!(sign_ins_are_counted_by_method_and_outcome);
