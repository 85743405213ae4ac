//! Signing keys over their whole life: how long a retired key stays published, and what revoking a
//! leaked key does to the tokens it signed. On SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::admin::ClientSpec;
use latchkey_core::keys::{KeyError, KeyRetention, Revocation, Rotation};
use latchkey_core::store::Store;
use latchkey_server::clock::now;
use latchkey_testkit::{on_both_backends, TestServer};
use latchkey_token::Algorithm;
use serde_json::Value;

const DAY: i64 = 24 * 3600;

async fn published<S: Store>(server: &TestServer<S>, kid: &str) -> bool {
    server
        .keys
        .list()
        .await
        .unwrap()
        .iter()
        .any(|k| k.kid == kid)
}

/// A client whose JWTs live two days keeps the key that signed them published for two days after
/// it retired, although the global lifetimes are one hour.
async fn a_retired_key_outlives_the_longest_client_jwt_lifetime<S: Store>(server: TestServer<S>) {
    server.user("alice", "alice-pw").await;
    server
        .client(ClientSpec {
            name: "long-lived".into(),
            owner: "alice".into(),
            grant_type: "client-credentials".into(),
            jwt_lifetime: Some(2 * DAY),
            ..ClientSpec::default()
        })
        .await;
    let old = server.tokens.keys().signer().kid().to_owned();
    server.rotate_keys(Algorithm::RS512).await;
    let retired_at = server
        .keys
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.kid == old)
        .and_then(|k| k.retired_at)
        .unwrap();

    let settings = server.tokens.settings();
    assert_eq!(
        (settings.jwt_lifetime, settings.service_jwt_max_lifetime),
        (3600, 3600)
    );
    let retention = KeyRetention {
        max_jwt_lifetime: 3600,
        reload_interval: 60,
    };
    let forget_at = |now: i64| {
        let keys = server.keys.clone();
        async move { keys.forget_retired(now, retention).await.unwrap() }
    };
    assert_eq!(forget_at(retired_at + DAY).await, 0);
    assert!(
        published(&server, &old).await,
        "a token the long-lived client got just before the rotation is still valid"
    );
    // A server that had not reloaded yet signed with it up to one interval after it retired
    // (two are kept: a sweep can run late).
    assert_eq!(forget_at(retired_at + 2 * DAY + 60).await, 0);
    assert!(published(&server, &old).await);
    assert_eq!(forget_at(retired_at + 2 * DAY + 2 * 60 + 1).await, 1);
    assert!(
        !published(&server, &old).await,
        "forgotten once every token expired"
    );
    // The current and the next key are never forgotten.
    assert_eq!(server.keys.list().await.unwrap().len(), 2);
}

async fn introspect<S: Store>(
    server: &TestServer<S>,
    who: &(String, String),
    token: &str,
) -> Value {
    let r = reqwest::Client::new()
        .post(server.url("/oauth2/introspect"))
        .basic_auth(&who.0, Some(&who.1))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn jwt<S: Store>(server: &TestServer<S>, client: &(String, String)) -> String {
    let r = reqwest::Client::new()
        .post(server.url("/oauth2/access_token"))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[("grant_type", "client_credentials"), ("token_type", "jwt")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn jwks_kids<S: Store>(server: &TestServer<S>) -> Vec<String> {
    let jwks: Value = reqwest::get(server.url("/oauth2/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

/// A leaked key, once revoked, is gone from the JWKS and from what the token endpoint trusts as
/// soon as the server reloads its keys (the janitor's sweep): a token it signed, which introspected
/// active a moment before (and was cached so), introspects inactive.
async fn a_revoked_key_no_longer_verifies<S: Store>(server: TestServer<S>) {
    server.user("alice", "alice-pw").await;
    let svc = server
        .confidential_with("svc", "alice", "client-credentials", &["introspect"])
        .await;
    let leaked = jwt(&server, &svc).await;
    let unasked = jwt(&server, &svc).await;
    let old = kid_of(&leaked);
    assert_eq!(introspect(&server, &svc, &leaked).await["active"], true);

    let refused = server.keys.revoke(&old, now()).await.unwrap_err();
    assert!(
        matches!(&refused, KeyError::RevokeCurrent(kid) if *kid == old),
        "{refused}"
    );
    assert!(refused.to_string().contains("rotate"), "{refused}");
    server.rotate_keys(Algorithm::RS512).await;
    assert_eq!(
        introspect(&server, &svc, &unasked).await["active"],
        true,
        "a retired key still verifies"
    );
    let Revocation::Revoked(info) = server.keys.revoke(&old, now()).await.unwrap() else {
        panic!("revoked before");
    };
    assert_eq!(info.state, "revoked");
    assert!(matches!(
        server.keys.revoke(&old, now()).await.unwrap(),
        Revocation::AlreadyRevoked(_)
    ));
    assert!(matches!(
        server.keys.revoke("no-such-kid", now()).await,
        Err(KeyError::UnknownKey(_))
    ));

    sweep(&server).await;
    assert!(!jwks_kids(&server).await.contains(&old));
    for token in [&leaked, &unasked] {
        assert_eq!(
            introspect(&server, &svc, token).await["active"],
            false,
            "a token signed by a revoked key is not trusted, cached answer or not"
        );
    }
    let fresh = jwt(&server, &svc).await;
    assert_ne!(kid_of(&fresh), old, "a revoked key never signs");
    assert_eq!(introspect(&server, &svc, &fresh).await["active"], true);

    // A revoked `next` key is never promoted: the rotation publishes a new one instead.
    let next = server
        .keys
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.state == "next")
        .unwrap()
        .kid;
    server.keys.revoke(&next, now()).await.unwrap();
    let rotation = server
        .keys
        .rotate(Algorithm::RS512, false, now())
        .await
        .unwrap();
    assert!(
        matches!(&rotation, Rotation::Staged(k) if k.kid != next),
        "{rotation:?}"
    );
    sweep(&server).await;
    let kids = jwks_kids(&server).await;
    assert!(!kids.contains(&next) && !kids.contains(&old), "{kids:?}");
}

async fn sweep<S: Store>(server: &TestServer<S>) {
    let settings = latchkey_server::janitor::JanitorSettings {
        interval: std::time::Duration::from_secs(60),
        batch: 1000,
        max_jwt_lifetime: 3600,
    };
    latchkey_server::janitor::sweep(&server.tokens, &server.keys, &server.authz, settings).await;
}

on_both_backends!(
    a_retired_key_outlives_the_longest_client_jwt_lifetime,
    a_revoked_key_no_longer_verifies,
);
