//! Conformance of `AuthorizationStore`: authorization codes and remembered consent.

use std::sync::Arc;

use latchkey_core::store::*;
use latchkey_core::user::UserId;

use super::{a_user, client, family, hash, refresh};

pub fn code(token: &str, client_id: &str, user: UserId, now: i64) -> CodeRow {
    CodeRow {
        hash: hash(token),
        client_id: client_id.into(),
        user_id: user,
        redirect_uri: "https://app.example.org/cb".into(),
        scopes: vec!["openid".into(), "email".into()],
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        nonce: Some("n-0S6_WzA2Mj".into()),
        auth_time: now - 5,
        issued_at: now,
        expires_at: now + 60,
        used_at: None,
        family_id: None,
    }
}

pub async fn codes_round_trip_and_are_taken_once<S: Store>(s: S) {
    let u = a_user(&s, "cora").await;
    let row = code("c1", "app", u.id, 100);
    s.insert_code(&row).await.unwrap();
    assert_eq!(s.code(&hash("c1")).await.unwrap(), Some(row.clone()));
    assert!(s.code(&hash("unknown")).await.unwrap().is_none());
    let bare = CodeRow {
        code_challenge: None,
        nonce: None,
        ..code("c2", "app", u.id, 100)
    };
    s.insert_code(&bare).await.unwrap();
    assert_eq!(s.code(&hash("c2")).await.unwrap(), Some(bare));

    assert!(
        !redeem(&s, "c1", "f-late", u.id, 160).await,
        "an expired code cannot be taken"
    );
    assert!(
        s.refresh_token(&hash("f-later0")).await.unwrap().is_none(),
        "a refused redemption starts no family"
    );
    assert_eq!(
        s.code(&hash("c1")).await.unwrap(),
        Some(row.clone()),
        "a refused take changes nothing"
    );
    assert!(redeem(&s, "c1", "f1", u.id, 110).await);
    assert!(
        s.refresh_token(&hash("f1r0")).await.unwrap().is_some(),
        "the redemption started its family"
    );
    assert!(!redeem(&s, "c1", "f2", u.id, 111).await);
    assert!(s.refresh_token(&hash("f2r0")).await.unwrap().is_none());
    let taken = s.code(&hash("c1")).await.unwrap().unwrap();
    assert_eq!(
        (taken.used_at, taken.family_id.as_deref()),
        (Some(110), Some("f1")),
        "the second take left the first one's family"
    );
    assert!(!redeem(&s, "unknown", "f3", u.id, 110).await);
}

/// Redeems `code` for a new family `family_id` whose first refresh token is `<family_id>r0`.
async fn redeem<S: Store>(s: &S, code: &str, family_id: &str, user: UserId, now: i64) -> bool {
    let f = family(family_id, user, now);
    let first = refresh(&format!("{family_id}r0"), family_id, now);
    s.redeem_code(&hash(code), now, &f, &first, None)
        .await
        .unwrap()
}

pub async fn concurrent_takes_of_a_code_have_one_winner<S: Store + Clone>(s: S) {
    let u = a_user(&s, "dora").await;
    s.insert_code(&code("c1", "app", u.id, 0)).await.unwrap();
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            redeem(s.as_ref(), "c1", &format!("f{i}"), u.id, 1).await
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
}

pub async fn codes_are_purged_by_expiry_in_batches<S: Store>(s: S) {
    let u = a_user(&s, "eda").await;
    for i in 0..5 {
        s.insert_code(&code(&format!("old{i}"), "app", u.id, 0))
            .await
            .unwrap();
    }
    s.insert_code(&code("new", "app", u.id, 1000))
        .await
        .unwrap();
    assert_eq!(
        s.purge_codes(61, 3).await.unwrap(),
        3,
        "bounded by the batch"
    );
    assert_eq!(s.purge_codes(61, 3).await.unwrap(), 2);
    assert_eq!(s.purge_codes(61, 3).await.unwrap(), 0);
    assert!(s.code(&hash("new")).await.unwrap().is_some());
}

pub async fn consent_is_remembered_per_user_and_client_and_revocable<S: Store>(s: S) {
    let u = a_user(&s, "fay").await;
    let other = a_user(&s, "gus").await;
    for id in ["app1", "app2"] {
        s.insert_client(&client(id, u.id, true)).await.unwrap();
    }
    assert!(s.consent(u.id, "app1").await.unwrap().is_none());
    let first = Consent {
        user_id: u.id,
        client_id: "app1".into(),
        scopes: vec!["read".into(), "email".into()],
        granted_at: 10,
    };
    s.save_consent(&first).await.unwrap();
    assert_eq!(s.consent(u.id, "app1").await.unwrap(), Some(first.clone()));
    assert!(s.consent(other.id, "app1").await.unwrap().is_none());
    assert!(s.consent(u.id, "app2").await.unwrap().is_none());

    let wider = Consent {
        scopes: vec!["read".into(), "email".into(), "profile".into()],
        granted_at: 20,
        ..first.clone()
    };
    s.save_consent(&wider).await.unwrap();
    let second = Consent {
        client_id: "app2".into(),
        ..first.clone()
    };
    s.save_consent(&second).await.unwrap();
    assert_eq!(
        s.consents(u.id).await.unwrap(),
        vec![wider, second.clone()],
        "saving again replaces; one row per client"
    );
    assert!(s.revoke_consent(u.id, "app1").await.unwrap());
    assert!(!s.revoke_consent(u.id, "app1").await.unwrap());
    assert_eq!(s.consents(u.id).await.unwrap(), vec![second]);
    assert!(s.consents(other.id).await.unwrap().is_empty());
}
