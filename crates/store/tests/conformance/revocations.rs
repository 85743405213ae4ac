//! The revocation feed: numbering, pages, cut-offs.

use latchkey_core::notice::{Change, Notice};
use latchkey_core::store::*;

use super::{a_user, family, hash, opaque, refresh};

fn jtis(page: &RevocationPage) -> Vec<&str> {
    page.jtis.iter().map(|j| j.jti.as_str()).collect()
}

pub async fn the_feed_continues_from_a_cursor<S: Store>(s: S) {
    let empty = s.revocations_after(0, 100).await.unwrap();
    assert!(empty.is_empty() && !empty.more);
    assert_eq!(empty.cursor, empty.head);

    s.revoke_jti("j1", 500).await.unwrap();
    s.revoke_jti("j2", 600).await.unwrap();
    let all = s.revocations_after(0, 100).await.unwrap();
    assert_eq!(jtis(&all), ["j1", "j2"]);
    assert_eq!(all.jtis[1].exp, 600);
    assert_eq!(all.cursor, all.head);

    s.revoke_jti("j3", 700).await.unwrap();
    let next = s.revocations_after(all.cursor, 100).await.unwrap();
    assert_eq!(jtis(&next), ["j3"], "only what came after the cursor");
    let quiet = s.revocations_after(next.cursor, 100).await.unwrap();
    assert!(quiet.is_empty());
    assert_eq!(quiet.cursor, next.cursor);
    // Revoking one again adds nothing.
    s.revoke_jti("j3", 700).await.unwrap();
    assert!(s
        .revocations_after(next.cursor, 100)
        .await
        .unwrap()
        .is_empty());
}

pub async fn pages_never_split_a_transaction<S: Store>(s: S) {
    let u = a_user(&s, "fay").await;
    s.revoke_jti("alone", 900).await.unwrap();
    // One family with three live JWTs: revoking it writes three entries in one transaction.
    s.start_family(&family("f", u.id, 0), &refresh("r1", "f", 0), None)
        .await
        .unwrap();
    s.rotate_refresh(&hash("r1"), 1, b"x", &refresh("r2", "f", 1), None)
        .await
        .unwrap();
    s.rotate_refresh(&hash("r2"), 2, b"x", &refresh("r3", "f", 2), None)
        .await
        .unwrap();
    s.revoke_family("f", 3).await.unwrap();
    s.revoke_jti("after", 900).await.unwrap();

    let first = s.revocations_after(0, 2).await.unwrap();
    assert_eq!(
        jtis(&first),
        ["alone"],
        "the family's entries wait for a page of their own"
    );
    assert!(first.more);
    let second = s.revocations_after(first.cursor, 2).await.unwrap();
    let mut family_jtis = jtis(&second);
    family_jtis.sort_unstable();
    assert_eq!(
        family_jtis,
        ["jti-r1", "jti-r2", "jti-r3"],
        "a full page comes whole"
    );
    assert!(second.more);
    let third = s.revocations_after(second.cursor, 2).await.unwrap();
    assert_eq!(jtis(&third), ["after"]);
    assert!(!third.more);
}

pub async fn a_cut_off_ends_everything_a_user_holds<S: Store>(s: S) {
    let u = a_user(&s, "gus").await;
    let other = a_user(&s, "hal").await;
    s.start_family(
        &family("fg", u.id, 0),
        &refresh("rg", "fg", 0),
        Some(&opaque("ag", u.id, Some("fg"), 0)),
    )
    .await
    .unwrap();
    s.insert_access_token(&opaque("loose", u.id, None, 0))
        .await
        .unwrap();
    s.start_family(&family("fh", other.id, 0), &refresh("rh", "fh", 0), None)
        .await
        .unwrap();
    let before = s.revocations_after(0, 100).await.unwrap();

    assert!(s.cut_off_user("gus", 40, None).await.unwrap());
    assert!(!s.cut_off_user("nobody", 40, None).await.unwrap());

    assert!(
        s.refresh_token(&hash("rg"))
            .await
            .unwrap()
            .unwrap()
            .family_revoked
    );
    for token in ["ag", "loose"] {
        assert!(
            s.access_token(&hash(token))
                .await
                .unwrap()
                .unwrap()
                .0
                .revoked,
            "{token}"
        );
    }
    assert!(
        !s.refresh_token(&hash("rh"))
            .await
            .unwrap()
            .unwrap()
            .family_revoked
    );
    // JWTs: refused by the not-before instant, by `iat`, for this user only.
    assert!(s.is_jwt_revoked("any", &u.sub, 39).await.unwrap());
    assert!(
        s.is_jwt_revoked("any", &u.sub, 40).await.unwrap(),
        "issued in the cut-off's second (iat counts whole seconds)"
    );
    assert!(
        !s.is_jwt_revoked("any", &u.sub, 41).await.unwrap(),
        "issued after the cut-off's second"
    );
    assert!(!s.is_jwt_revoked("any", &other.sub, 39).await.unwrap());
    let page = s.revocations_after(before.cursor, 100).await.unwrap();
    assert_eq!(
        page.users,
        [NotBefore {
            sub: u.sub.clone(),
            not_before: 41
        }]
    );
    // A later cut-off moves the instant forward and comes again; an earlier one never moves it back.
    s.cut_off_user("gus", 50, None).await.unwrap();
    s.cut_off_user("gus", 45, None).await.unwrap();
    let again = s.revocations_after(page.cursor, 100).await.unwrap();
    assert_eq!(again.users.len(), 1);
    assert_eq!(again.users[0].not_before, 51);
    // A password change replaces the hash in the same write.
    assert!(s
        .cut_off_user("gus", 60, Some("argon2id$new"))
        .await
        .unwrap());
    let gus = s.user_by_id(u.id).await.unwrap().unwrap();
    assert_eq!(gus.password_hash.as_deref(), Some("argon2id$new"));
    // Disabling cuts off too; enabling does not.
    s.set_user_disabled("hal", true, 70).await.unwrap();
    assert!(
        s.refresh_token(&hash("rh"))
            .await
            .unwrap()
            .unwrap()
            .family_revoked
    );
    assert!(s.is_jwt_revoked("any", &other.sub, 69).await.unwrap());
    s.set_user_disabled("hal", false, 80).await.unwrap();
    assert!(
        s.is_jwt_revoked("any", &other.sub, 69).await.unwrap(),
        "enabling keeps the instant the disable set"
    );
    assert!(!s.is_jwt_revoked("any", &other.sub, 75).await.unwrap());
}

pub async fn old_not_before_instants_are_purged<S: Store>(s: S) {
    a_user(&s, "ivy").await;
    a_user(&s, "jon").await;
    s.cut_off_user("ivy", 10, None).await.unwrap();
    s.cut_off_user("jon", 20, None).await.unwrap();
    assert_eq!(s.purge_not_before(15, 100).await.unwrap(), 1);
    let left = s.revocations_after(0, 100).await.unwrap();
    assert_eq!(left.users.len(), 1);
    assert_eq!(left.users[0].not_before, 21);
}

/// Each write that changes what a cache may hold is heard by the store's own subscribers (on
/// PostgreSQL through `LISTEN`, so this also shows the notice leaves the transaction).
pub async fn writes_announce_what_they_change<S: Store>(s: S) {
    let mut heard = s.notices();
    let u = a_user(&s, "kim").await;
    let probe = a_user(&s, "probe").await;
    // PostgreSQL's listener connects in the background: until it listens, notices pass it by.
    // Change the probe user until that is heard; its late notices are left out below.
    loop {
        s.set_user_disabled("probe", false, 0).await.unwrap();
        match tokio::time::timeout(std::time::Duration::from_millis(200), heard.recv()).await {
            Ok(Ok(Notice::Change(Change::User(id)))) if id == probe.id => break,
            Ok(Ok(_)) | Err(_) => continue,
            Ok(Err(e)) => panic!("the hub closed: {e}"),
        }
    }
    s.revoke_jti("jk", 900).await.unwrap();
    s.set_user_disabled("kim", true, 10).await.unwrap();
    s.set_user_disabled("nobody", true, 10).await.unwrap();
    s.cut_off_user("kim", 20, None).await.unwrap();
    let expected = [Change::Revocations, Change::User(u.id), Change::User(u.id)];
    let mut got = Vec::new();
    while got.len() < expected.len() {
        let notice = tokio::time::timeout(std::time::Duration::from_secs(10), heard.recv())
            .await
            .expect("a notice within 10 s")
            .expect("the hub is open");
        match notice {
            Notice::Change(Change::User(id)) if id == probe.id => {}
            Notice::Change(change) => got.push(change),
            // PostgreSQL's listener announces itself once it listens.
            Notice::Missed => {}
        }
    }
    assert_eq!(
        got, expected,
        "in commit order, and nothing for an unknown user"
    );
}
