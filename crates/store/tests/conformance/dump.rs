//! What a database dump may hold and what racing writers may leave behind: sealed successor pairs
//! live only as long as they are needed, a rotation racing a family revocation leaves nothing
//! live, and the password hash mix is what the decoys are chosen from.

use std::sync::Arc;

use latchkey_core::store::*;

use super::{a_user, family, hash, opaque, refresh, user_row};

/// Each rotation forgets the sealed successors of the family's older tokens, and the janitor's
/// sweep forgets the newest one once its grace window has passed.
pub async fn only_the_newest_rotation_keeps_its_sealed_successor<S: Store>(s: S) {
    let u = a_user(&s, "sealed").await;
    s.start_family(&family("f1", u.id, 0), &refresh("r1", "f1", 0), None)
        .await
        .unwrap();
    let sealed = |token: &str| {
        let s = &s;
        let h = hash(token);
        async move { s.refresh_token(&h).await.unwrap().unwrap().successor }
    };
    for (old, new, at) in [("r1", "r2", 1), ("r2", "r3", 2)] {
        let won = s
            .rotate_refresh(&hash(old), at, b"pair", &refresh(new, "f1", at), None)
            .await
            .unwrap();
        assert_eq!(won, Rotation::Rotated);
    }
    assert_eq!(sealed("r1").await, None, "an older successor is forgotten");
    assert_eq!(sealed("r2").await.as_deref(), Some(&b"pair"[..]));

    assert_eq!(
        s.clear_successors(2, 100).await.unwrap(),
        0,
        "still in its window"
    );
    assert_eq!(s.clear_successors(3, 100).await.unwrap(), 1);
    assert_eq!(sealed("r2").await, None);
    let row = s.refresh_token(&hash("r2")).await.unwrap().unwrap();
    assert_eq!(row.rotated_at, Some(2), "the rotation itself is remembered");
}

/// A family revocation and a rotation of one of its tokens, raced many times: whichever commits
/// first, no access token or JWT issued by the rotation outlives the revocation.
pub async fn a_revocation_racing_a_rotation_leaves_nothing_live<S: Store>(s: S) {
    let u = a_user(&s, "racer").await;
    let s = Arc::new(s);
    for round in 0..40 {
        let (f, r0, r1, a1) = (
            format!("f{round}"),
            format!("r0-{round}"),
            format!("r1-{round}"),
            format!("a1-{round}"),
        );
        s.start_family(&family(&f, u.id, 0), &refresh(&r0, &f, 0), None)
            .await
            .unwrap();
        let rotation = {
            let (s, f, r0, r1, a1) = (s.clone(), f.clone(), r0.clone(), r1.clone(), a1.clone());
            tokio::spawn(async move {
                let access = opaque(&a1, u.id, Some(&f), 1);
                s.rotate_refresh(&hash(&r0), 1, b"x", &refresh(&r1, &f, 1), Some(&access))
                    .await
                    .unwrap()
            })
        };
        let revocation = {
            let (s, f) = (s.clone(), f.clone());
            tokio::spawn(async move { s.revoke_family(&f, 1).await.unwrap() })
        };
        let rotated = rotation.await.unwrap();
        revocation.await.unwrap();
        if rotated == Rotation::Rotated {
            let (access, _) = s.access_token(&hash(&a1)).await.unwrap().unwrap();
            assert!(
                access.revoked,
                "round {round}: the rotation's access token is live"
            );
            assert!(
                s.is_jwt_revoked(&format!("jti-{r1}"), "no-one", 0)
                    .await
                    .unwrap(),
                "round {round}: the rotation's JWT is live"
            );
        } else {
            assert!(s.refresh_token(&hash(&r1)).await.unwrap().is_none());
        }
    }
}

pub async fn the_password_mix_counts_django_hashes<S: Store>(s: S) {
    assert_eq!(s.password_mix().await.unwrap(), PasswordMix::default());
    let mut django = user_row("imported", "imported@example.org");
    django.password_hash =
        Some("pbkdf2_sha256$260000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into());
    s.insert_user(&django).await.unwrap();
    a_user(&s, "native").await;
    let mut none = user_row("sso", "sso@example.org");
    none.password_hash = None;
    s.insert_user(&none).await.unwrap();
    let mix = s.password_mix().await.unwrap();
    assert_eq!(
        mix,
        PasswordMix {
            with_password: 2,
            django: 1,
            django_iterations: Some(260_000),
        }
    );
}
