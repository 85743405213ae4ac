//! Browser sessions in core over both real stores: the idle limit and its coarse touch, the
//! remembered lifetime, disabled users, ending one or all, and the janitor's purge. Time is a
//! parameter, so each limit is crossed exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use latchkey_core::random::OsRandom;
use latchkey_core::secret::{Secret, SecretHasher};
use latchkey_core::session::{Authenticated, SessionSettings, Sessions};
use latchkey_core::store::Store;
use latchkey_core::tokens::RequestContext;
use latchkey_server::clock::now;
use latchkey_testkit::{on_both_backends, TestServer};

const IDLE: i64 = 600;
const REMEMBER: i64 = 3600;
const TOUCH: i64 = 60;

fn sessions<S: Store>(server: &TestServer<S>) -> Sessions<S> {
    Sessions::new(
        server.store.clone(),
        SecretHasher::new(&[7; 32]),
        Arc::new(OsRandom),
        SessionSettings {
            idle: IDLE,
            remember: REMEMBER,
            touch_interval: TOUCH,
        },
    )
}

/// `name` signs in with their password at `at`.
async fn signed_in<S: Store>(server: &TestServer<S>, name: &str, at: i64) -> Authenticated {
    if server.store.user_by_login(name).await.unwrap().is_none() {
        server.user(name, "correct horse battery").await;
    }
    let ctx = RequestContext {
        now: now(),
        ip: None,
    };
    let proof = server
        .tokens
        .sign_in()
        .sign_in(name, Secret::new("correct horse battery"), ctx)
        .await
        .unwrap();
    Authenticated::signed_in(proof, at)
}

async fn a_browser_session_ends_when_idle_and_use_keeps_it_alive<S: Store>(server: TestServer<S>) {
    let sessions = sessions(&server);
    let t0 = 1_000_000;
    let who = signed_in(&server, "alice", t0 - 5).await;
    let user_id = who.user().id;
    let started = sessions.start(who, false, t0).await.unwrap();
    assert_eq!(started.max_age, None, "a browser-session cookie");
    let cookie = started.cookie.expose().to_owned();
    let idle_end = || async { sessions.of_user(user_id).await.unwrap()[0].idle_expires_at };

    let current = sessions.current(&cookie, t0 + 30).await.unwrap().unwrap();
    assert_eq!((current.user.id, current.auth_time), (user_id, t0 - 5));
    assert_eq!(
        idle_end().await,
        Some(t0 + IDLE),
        "no write within the touch interval"
    );
    assert!(sessions.current(&cookie, t0 + 100).await.unwrap().is_some());
    assert_eq!(idle_end().await, Some(t0 + 100 + IDLE), "touched");
    assert!(sessions.current(&cookie, t0 + 699).await.unwrap().is_some());
    assert!(sessions
        .current(&cookie, t0 + 699 + IDLE)
        .await
        .unwrap()
        .is_none());
    // An idle session stays ended, even if it is presented again at once.
    assert!(sessions
        .current(&cookie, t0 + 699 + IDLE)
        .await
        .unwrap()
        .is_none());
    for wrong in ["", "x", &format!("{cookie}x"), &"a".repeat(10_000)] {
        assert!(
            sessions.current(wrong, t0).await.unwrap().is_none(),
            "{wrong:.20}"
        );
    }
}

async fn a_remembered_session_lasts_its_lifetime_whatever_the_idle_time<S: Store>(
    server: TestServer<S>,
) {
    let sessions = sessions(&server);
    let t0 = 2_000_000;
    let started = sessions
        .start(signed_in(&server, "bob", t0).await, true, t0)
        .await
        .unwrap();
    assert_eq!(started.max_age, Some(REMEMBER));
    let cookie = started.cookie.expose().to_owned();
    assert!(sessions
        .current(&cookie, t0 + REMEMBER - 1)
        .await
        .unwrap()
        .is_some());
    assert!(sessions
        .current(&cookie, t0 + REMEMBER)
        .await
        .unwrap()
        .is_none());
}

async fn disabled_users_have_no_session_and_sessions_end_one_or_all<S: Store>(
    server: TestServer<S>,
) {
    let sessions = sessions(&server);
    let t0 = 3_000_000;
    let one = sessions
        .start(signed_in(&server, "carol", t0).await, false, t0)
        .await
        .unwrap();
    let two = sessions
        .start(signed_in(&server, "carol", t0).await, true, t0)
        .await
        .unwrap();
    let (one, two) = (
        one.cookie.expose().to_owned(),
        two.cookie.expose().to_owned(),
    );
    let user_id = one_user(&server, "carol").await;
    server
        .store
        .set_user_disabled("carol", true, now())
        .await
        .unwrap();
    assert!(sessions.current(&one, t0 + 1).await.unwrap().is_none());
    assert!(sessions.current(&two, t0 + 1).await.unwrap().is_none());
    server
        .store
        .set_user_disabled("carol", false, now())
        .await
        .unwrap();
    assert!(
        sessions.current(&one, t0 + 1).await.unwrap().is_none(),
        "disabling ended the session: enabling does not bring it back"
    );
    assert!(sessions.of_user(user_id).await.unwrap().is_empty());

    let one = sessions
        .start(signed_in(&server, "carol", t0).await, false, t0)
        .await
        .unwrap();
    let two = sessions
        .start(signed_in(&server, "carol", t0).await, true, t0)
        .await
        .unwrap();
    let (one, two) = (
        one.cookie.expose().to_owned(),
        two.cookie.expose().to_owned(),
    );
    assert!(sessions.end(&one).await.unwrap());
    assert!(!sessions.end(&one).await.unwrap());
    assert!(sessions.current(&one, t0 + 1).await.unwrap().is_none());
    assert_eq!(sessions.of_user(user_id).await.unwrap().len(), 1);
    assert_eq!(sessions.end_all(user_id).await.unwrap(), 1);
    assert!(sessions.current(&two, t0 + 1).await.unwrap().is_none());
}

async fn one_user<S: Store>(server: &TestServer<S>, name: &str) -> latchkey_core::user::UserId {
    server.store.user_by_login(name).await.unwrap().unwrap().id
}

async fn the_janitor_removes_ended_sessions<S: Store>(server: TestServer<S>) {
    let sessions = sessions(&server);
    let long_ago = now() - 10 * REMEMBER;
    let recent = now();
    for (at, remember) in [(long_ago, false), (long_ago, true), (recent, false)] {
        sessions
            .start(signed_in(&server, "dave", at).await, remember, at)
            .await
            .unwrap();
    }
    let user_id = one_user(&server, "dave").await;
    let settings = latchkey_server::janitor::JanitorSettings {
        interval: std::time::Duration::from_secs(60),
        batch: 1,
        max_jwt_lifetime: 3600,
    };
    latchkey_server::janitor::sweep(&server.tokens, &server.keys, &server.authz, settings).await;
    let left = server.store.user_sessions(user_id).await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].created_at, recent);
}

on_both_backends!(
    a_browser_session_ends_when_idle_and_use_keeps_it_alive,
    a_remembered_session_lasts_its_lifetime_whatever_the_idle_time,
    disabled_users_have_no_session_and_sessions_end_one_or_all,
    the_janitor_removes_ended_sessions,
);
