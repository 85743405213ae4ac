//! Conformance of `AuthorizationStore`: authorization codes and remembered consent.

use std::sync::Arc;

use latchkey_core::store::*;
use latchkey_core::user::UserId;

use super::{a_user, client, family, hash, opaque, refresh};

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

    let (found, holder) = s.code_and_user(&hash("c1")).await.unwrap().unwrap();
    assert_eq!(
        (Some(found), holder.map(|h| h.username)),
        (s.code(&hash("c1")).await.unwrap(), Some("cora".into())),
        "the code comes with its user"
    );
    s.insert_code(&code("orphan", "app", UserId(u.id.0 + 1000), 100))
        .await
        .unwrap();
    let (_, nobody) = s.code_and_user(&hash("orphan")).await.unwrap().unwrap();
    assert!(
        nobody.is_none(),
        "a code whose user is gone comes without one"
    );
    assert!(s.code_and_user(&hash("unknown")).await.unwrap().is_none());
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

/// Exchanges that arrive together share the store's transactions, yet each answers for itself:
/// of the redemptions of one code exactly one wins, whatever the others in flight, and only the
/// winners' families exist.
pub async fn concurrent_redemptions_of_many_codes_each_answer_for_themselves<S: Store + Clone>(
    s: S,
) {
    let u = a_user(&s, "ida").await;
    const CODES: usize = 24;
    for c in 0..CODES {
        s.insert_code(&code(&format!("c{c}"), "app", u.id, 0))
            .await
            .unwrap();
    }
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for attempt in 0..3 {
        for c in 0..CODES {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let f = format!("f{c}x{attempt}");
                let family = family(&f, u.id, 1);
                let first = refresh(&format!("{f}r0"), &f, 1);
                let access = opaque(&format!("{f}a0"), u.id, Some(&f), 1);
                let won = s
                    .redeem_code(&hash(&format!("c{c}")), 1, &family, &first, Some(&access))
                    .await
                    .unwrap();
                (c, f, won)
            }));
        }
    }
    let mut winners = vec![Vec::new(); CODES];
    for t in tasks {
        let (c, f, won) = t.await.unwrap();
        let stored = s.refresh_token(&hash(&format!("{f}r0"))).await.unwrap();
        let access = s.access_token(&hash(&format!("{f}a0"))).await.unwrap();
        assert_eq!(
            stored.is_some(),
            won,
            "{f}: its refresh token is stored iff it won"
        );
        assert_eq!(
            access.is_some(),
            won,
            "{f}: its access token is stored iff it won"
        );
        if won {
            winners[c].push(f);
        }
    }
    for (c, won) in winners.iter().enumerate() {
        assert_eq!(won.len(), 1, "code c{c}: {won:?}");
        let taken = s.code(&hash(&format!("c{c}"))).await.unwrap().unwrap();
        assert_eq!(
            taken.family_id.as_ref(),
            Some(&won[0]),
            "code c{c} names its winner"
        );
    }
}

/// A redemption that fails (here its family id is taken) fails alone: the code stays unused, and
/// the redemptions in flight beside it, in the same batch (it comes last, while the first ones are
/// being written), are not harmed.
pub async fn a_failed_redemption_fails_alone<S: Store + Clone>(s: S) {
    let u = a_user(&s, "jo").await;
    s.start_family(
        &family("taken", u.id, 0),
        &refresh("taken-r0", "taken", 0),
        None,
    )
    .await
    .unwrap();
    let good: Vec<String> = (0..16).map(|i| format!("good{i}")).collect();
    for c in good.iter().map(String::as_str).chain(["bad"]) {
        s.insert_code(&code(c, "app", u.id, 0)).await.unwrap();
    }
    let s = Arc::new(s);
    let tasks: Vec<_> = good
        .iter()
        .map(|c| (c.clone(), format!("f-{c}")))
        .chain([("bad".to_owned(), "taken".to_owned())])
        .map(|(c, f)| {
            let s = s.clone();
            tokio::spawn(async move {
                let done = s
                    .redeem_code(
                        &hash(&c),
                        1,
                        &family(&f, u.id, 1),
                        &refresh(&format!("{f}-new"), &f, 1),
                        None,
                    )
                    .await;
                (c, f, done)
            })
        })
        .collect();
    for t in tasks {
        let (c, f, done) = t.await.unwrap();
        if c == "bad" {
            assert!(done.is_err(), "{done:?}");
        } else {
            assert!(done.unwrap(), "{c}");
            assert!(s
                .refresh_token(&hash(&format!("{f}-new")))
                .await
                .unwrap()
                .is_some());
        }
    }
    let bad = s.code(&hash("bad")).await.unwrap().unwrap();
    assert_eq!(
        (bad.used_at, bad.family_id),
        (None, None),
        "the failed take was undone"
    );
    assert!(s.refresh_token(&hash("taken-new")).await.unwrap().is_none());
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
