//! Signing keys over their whole life: how long a retired key stays published. On SQLite and on
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::admin::ClientSpec;
use latchkey_core::keys::KeyRetention;
use latchkey_core::store::Store;
use latchkey_testkit::{on_both_backends, TestServer};
use latchkey_token::Algorithm;

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

on_both_backends!(a_retired_key_outlives_the_longest_client_jwt_lifetime);
