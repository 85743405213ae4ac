//! Conformance of `SessionStore`: browser sessions by hash, per user, and their purge.

use latchkey_core::store::*;

use super::{a_user, hash};

fn session(cookie: &str, user: latchkey_core::user::UserId, idle: Option<i64>) -> SessionRow {
    SessionRow {
        hash: hash(cookie),
        user_id: user,
        auth_time: 90,
        created_at: 100,
        expires_at: 1_000,
        idle_expires_at: idle,
    }
}

pub async fn sessions_are_found_by_hash_with_their_user<S: Store>(s: S) {
    let alice = a_user(&s, "alice").await;
    let row = session("cookie-a", alice.id, Some(300));
    s.insert_session(&row).await.unwrap();
    let (found, user) = s.session(&hash("cookie-a")).await.unwrap().unwrap();
    assert_eq!(found, row);
    assert_eq!(user, alice);
    assert!(s.session(&hash("cookie-b")).await.unwrap().is_none());
    // Disabling the user ends the session with everything else they hold.
    s.set_user_disabled("alice", true, 100).await.unwrap();
    assert!(s.session(&hash("cookie-a")).await.unwrap().is_none());
}

pub async fn touching_moves_the_idle_end_forward_only<S: Store>(s: S) {
    let alice = a_user(&s, "alice").await;
    s.insert_session(&session("idle", alice.id, Some(300)))
        .await
        .unwrap();
    s.insert_session(&session("remembered", alice.id, None))
        .await
        .unwrap();
    assert!(s.touch_session(&hash("idle"), 400).await.unwrap());
    assert!(!s.touch_session(&hash("idle"), 350).await.unwrap(), "back");
    assert!(!s.touch_session(&hash("remembered"), 500).await.unwrap());
    assert!(!s.touch_session(&hash("unknown"), 500).await.unwrap());
    let idle = |c: &'static str| {
        let s = &s;
        async move {
            s.session(&hash(c))
                .await
                .unwrap()
                .unwrap()
                .0
                .idle_expires_at
        }
    };
    assert_eq!(idle("idle").await, Some(400));
    assert_eq!(idle("remembered").await, None);
}

pub async fn sessions_end_one_by_one_or_per_user<S: Store>(s: S) {
    let alice = a_user(&s, "alice").await;
    let bob = a_user(&s, "bob").await;
    for (cookie, user) in [("a1", alice.id), ("a2", alice.id), ("b1", bob.id)] {
        s.insert_session(&session(cookie, user, Some(300)))
            .await
            .unwrap();
    }
    let listed: Vec<_> = s
        .user_sessions(alice.id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.hash)
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&hash("a1")) && listed.contains(&hash("a2")));
    assert!(s.delete_session(&hash("a1")).await.unwrap());
    assert!(!s.delete_session(&hash("a1")).await.unwrap(), "twice");
    assert_eq!(s.delete_user_sessions(alice.id).await.unwrap(), 1);
    assert!(s.user_sessions(alice.id).await.unwrap().is_empty());
    assert!(
        s.session(&hash("b1")).await.unwrap().is_some(),
        "bob's stays"
    );
}

pub async fn purge_removes_sessions_past_either_end<S: Store>(s: S) {
    let alice = a_user(&s, "alice").await;
    let mut absolute = session("absolute", alice.id, None);
    absolute.expires_at = 500;
    let idle = session("idle", alice.id, Some(500));
    let live = session("live", alice.id, Some(501));
    let remembered = session("remembered", alice.id, None);
    for row in [&absolute, &idle, &live, &remembered] {
        s.insert_session(row).await.unwrap();
    }
    // Bounded: one at a time, then the rest.
    assert_eq!(s.purge_expired_sessions(500, 1).await.unwrap(), 1);
    assert_eq!(s.purge_expired_sessions(500, 10).await.unwrap(), 1);
    assert_eq!(s.purge_expired_sessions(500, 10).await.unwrap(), 0);
    for (cookie, kept) in [
        ("absolute", false),
        ("idle", false),
        ("live", true),
        ("remembered", true),
    ] {
        assert_eq!(
            s.session(&hash(cookie)).await.unwrap().is_some(),
            kept,
            "{cookie}"
        );
    }
}
