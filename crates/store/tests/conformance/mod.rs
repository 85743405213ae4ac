//! The storage conformance suite: one set of behaviours every backend must show, instantiated per
//! backend by `suite!` in `sqlite.rs` and `postgres.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

/// PostgreSQL's alone: run by `postgres.rs`.
pub mod attempts;
mod authz;
mod codes;
mod dump;
mod revocations;
mod sessions;

use std::sync::Arc;

use latchkey_core::client::{
    Client, ClientKind, GrantType, Lifetimes, Permission, RedirectUri, StoredSecret,
};
use latchkey_core::secret::{SecretHasher, TokenHash};
use latchkey_core::store::*;
use latchkey_core::user::{User, UserId};
use latchkey_token::Algorithm;

pub use authz::*;
pub use codes::*;
pub use dump::*;
pub use revocations::*;
pub use sessions::*;

pub fn hash(s: &str) -> TokenHash {
    SecretHasher::new(&[9; 32]).hash(s)
}

pub fn user_row(username: &str, email: &str) -> NewUserRow {
    NewUserRow {
        username: username.into(),
        email: email.into(),
        name: "Name".into(),
        password_hash: Some("$argon2id$stub".into()),
        is_staff: false,
        is_superuser: false,
        email_verified: true,
        sub: distinct_sub(&format!("{username}/{email}")),
        created_at: 1,
    }
}

/// A 32-hex id that differs whenever `seed` does, so only the constraint under test can fire.
fn distinct_sub(seed: &str) -> String {
    let h = SecretHasher::new(&[1; 32]).hash(seed);
    h.as_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn client(id: &str, owner: UserId, public: bool) -> Client {
    Client {
        id: id.into(),
        name: format!("app {id}"),
        owner,
        kind: if public {
            ClientKind::Public
        } else {
            ClientKind::Confidential {
                secret: StoredSecret::Keyed(hash(id)),
                permissions: Default::default(),
            }
        },
        grant_type: GrantType::Password,
        redirect_uris: vec![RedirectUri::try_from("https://app.example.org/cb").unwrap()],
        scopes: vec!["grades:read".into()],
        filters: vec!["content_org:MITx".into()],
        restricted: false,
        skip_authorization: true,
        lifetimes: Lifetimes {
            jwt: Some(600),
            opaque: None,
            refresh: Some(3600),
        },
        created_at: 5,
    }
}

pub async fn a_user<S: Store>(s: &S, name: &str) -> User {
    s.insert_user(&user_row(name, &format!("{name}@example.org")))
        .await
        .unwrap()
}

pub fn refresh(token: &str, family: &str, now: i64) -> NewRefresh {
    NewRefresh {
        hash: hash(token),
        family_id: family.into(),
        scopes: vec!["read".into(), "email".into()],
        issued_at: now,
        expires_at: now + 100,
        access_jti: format!("jti-{token}"),
        access_expires_at: now + 50,
    }
}

pub fn family(id: &str, user: UserId, now: i64) -> Family {
    Family {
        id: id.into(),
        client_id: "c1".into(),
        user_id: user,
        created_at: now,
        expires_at: None,
    }
}

pub fn opaque(token: &str, user: UserId, family: Option<&str>, now: i64) -> AccessTokenRow {
    AccessTokenRow {
        hash: hash(token),
        jti: format!("jti-{token}"),
        client_id: "c1".into(),
        user_id: user,
        scopes: vec!["read".into()],
        issued_at: now,
        expires_at: now + 50,
        family_id: family.map(str::to_owned),
        revoked: false,
    }
}

pub async fn users_are_unique_and_found_by_username_or_email<S: Store>(s: S) {
    let alice = a_user(&s, "alice").await;
    assert_eq!(alice.username, "alice");
    assert!(!alice.disabled);
    let dup_name = s.insert_user(&user_row("alice", "other@example.org")).await;
    assert!(
        matches!(dup_name, Err(StoreError::Conflict(Conflict::Username))),
        "{dup_name:?}"
    );
    let dup_email = s
        .insert_user(&user_row("alice2", "ALICE@Example.ORG"))
        .await;
    assert!(
        matches!(dup_email, Err(StoreError::Conflict(Conflict::Email))),
        "{dup_email:?}"
    );
    let mut dup_sub = user_row("alice3", "alice3@example.org");
    dup_sub.sub = alice.sub.clone();
    let dup_sub = s.insert_user(&dup_sub).await;
    assert!(
        matches!(dup_sub, Err(StoreError::Conflict(Conflict::Subject))),
        "{dup_sub:?}"
    );
    assert_eq!(
        s.list_users().await.unwrap().len(),
        1,
        "a refused insert changes nothing"
    );

    assert_eq!(
        s.user_by_login("alice").await.unwrap().unwrap().id,
        alice.id
    );
    assert_eq!(
        s.user_by_login("Alice@EXAMPLE.org")
            .await
            .unwrap()
            .unwrap()
            .id,
        alice.id
    );
    assert!(s.user_by_login("nobody").await.unwrap().is_none());
    assert_eq!(s.user_by_id(alice.id).await.unwrap().unwrap(), alice);
}

pub async fn unicode_logins_are_found_as_django_finds_them<S: Store>(s: S) {
    let jose = s
        .insert_user(&user_row("José.Admin", "José.Admin@Example.org"))
        .await
        .unwrap();
    assert_eq!(jose.username, "José.Admin");
    assert_eq!(jose.email, "José.Admin@Example.org", "stored as given");
    // Usernames are case-sensitive, as Django's: another case is another user.
    let lower = s
        .insert_user(&user_row("josé.admin", "jose@example.org"))
        .await
        .unwrap();
    let li = s
        .insert_user(&user_row("李雷", "li.lei@example.cn"))
        .await
        .unwrap();
    // Emails are one account whatever their case, beyond ASCII too (SQLite's lower() is not).
    for same in ["JOSÉ.ADMIN@example.org", "jose\u{301}.admin@example.org"] {
        let dup = s.insert_user(&user_row("other", same)).await;
        assert!(
            matches!(dup, Err(StoreError::Conflict(Conflict::Email))),
            "{same:?}: {dup:?}"
        );
    }

    let found = |login: &'static str| {
        let s = &s;
        async move { s.user_by_login(login).await.unwrap().map(|u| u.id) }
    };
    assert_eq!(found("José.Admin").await, Some(jose.id));
    assert_eq!(found("josé.admin").await, Some(lower.id));
    assert_eq!(found("李雷").await, Some(li.id));
    assert_eq!(found("JOSÉ.ADMIN@EXAMPLE.ORG").await, Some(jose.id));
    assert_eq!(found("jose\u{301}.admin@example.org").await, Some(jose.id));
    // Typed decomposed, or in fullwidth forms: the name a creation would have stored (NFKC).
    assert_eq!(found("Jose\u{301}.Admin").await, Some(jose.id));
    assert_eq!(found("Ｊｏｓé．Ａｄｍｉｎ").await, Some(jose.id));
    assert_eq!(
        found("JOSÉ.ADMIN").await,
        None,
        "no case folding for usernames"
    );
    assert_eq!(found("李").await, None);
}

pub async fn disabling_and_password_upgrades_are_precise<S: Store>(s: S) {
    let bob = a_user(&s, "bob").await;
    assert!(s.set_user_disabled("bob", true, 100).await.unwrap());
    assert!(s.user_by_id(bob.id).await.unwrap().unwrap().disabled);
    assert!(!s.set_user_disabled("nobody", true, 100).await.unwrap());

    let old = bob.password_hash.clone().unwrap();
    assert!(!s
        .replace_password_hash(bob.id, "not-the-old-hash", "new")
        .await
        .unwrap());
    assert!(s.replace_password_hash(bob.id, &old, "new").await.unwrap());
    let stored = s.user_by_id(bob.id).await.unwrap().unwrap();
    assert_eq!(stored.password_hash.as_deref(), Some("new"));
}

pub async fn clients_round_trip_and_conflict<S: Store>(s: S) {
    let owner = a_user(&s, "owner").await;
    let c = client("c1", owner.id, false);
    s.insert_client(&c).await.unwrap();
    assert_eq!(s.client_by_id("c1").await.unwrap().unwrap(), c);
    assert_eq!(
        s.client_by_name(owner.id, "app c1").await.unwrap().unwrap(),
        c
    );

    let mut same_id = client("c1", owner.id, true);
    same_id.name = "another name".into();
    let same_id = s.insert_client(&same_id).await;
    assert!(
        matches!(same_id, Err(StoreError::Conflict(Conflict::ClientId))),
        "{same_id:?}"
    );
    let mut same_name = client("c2", owner.id, true);
    same_name.name = c.name.clone();
    let r = s.insert_client(&same_name).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(Conflict::ClientName))),
        "{r:?}"
    );

    let mut public = c.clone();
    public.kind = ClientKind::Public;
    public.scopes = vec![];
    public.grant_type = GrantType::ClientCredentials;
    s.update_client(&public).await.unwrap();
    assert_eq!(s.client_by_id("c1").await.unwrap().unwrap(), public);
    assert_eq!(s.list_clients().await.unwrap(), vec![public.clone()]);

    let mut taken = client("c3", owner.id, true);
    s.insert_client(&taken).await.unwrap();
    taken.name = public.name.clone();
    let r = s.update_client(&taken).await;
    assert!(
        matches!(r, Err(StoreError::Conflict(Conflict::ClientName))),
        "an update onto another client's name: {r:?}"
    );
    let r = s.update_client(&client("gone", owner.id, true)).await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
}

pub async fn client_permissions_round_trip<S: Store>(s: S) {
    let owner = a_user(&s, "owner").await;
    let with = |c: &mut Client, granted: &[Permission]| {
        if let ClientKind::Confidential { permissions, .. } = &mut c.kind {
            *permissions = granted.iter().copied().collect();
        }
    };
    let mut c = client("rs", owner.id, false);
    with(&mut c, &[Permission::Introspect, Permission::AuthzWrite]);
    s.insert_client(&c).await.unwrap();
    let stored = s.client_by_id("rs").await.unwrap().unwrap();
    assert_eq!(stored, c);
    assert!(stored.permissions().contains(&Permission::AuthzWrite));

    with(&mut c, &Permission::ALL);
    s.update_client(&c).await.unwrap();
    assert_eq!(s.client_by_id("rs").await.unwrap().unwrap(), c);
    with(&mut c, &[]);
    s.update_client(&c).await.unwrap();
    assert_eq!(s.client_by_id("rs").await.unwrap().unwrap(), c);

    let mut other = client("other", owner.id, false);
    with(&mut other, &[Permission::AuthzRead]);
    s.insert_client(&other).await.unwrap();
    let listed = s.list_clients().await.unwrap();
    // Same created_at: listed by id.
    assert_eq!(listed, vec![other, c], "each row keeps its own permissions");
}

/// The schema itself refuses what `ClientKind` cannot express, for rows written by other tools:
/// makes a public client and returns the raw SQL that would grant it a permission, which each
/// backend's file runs on its pool and expects refused.
pub async fn public_client_to_grant<S: Store>(s: &S) -> &'static str {
    let owner = a_user(s, "owner").await;
    s.insert_client(&client("p", owner.id, true)).await.unwrap();
    "UPDATE clients SET permissions = 'introspect' WHERE id = 'p'"
}

pub fn signing_key(kid: &str, state: KeyState) -> StoredKey {
    StoredKey {
        kid: kid.into(),
        alg: Algorithm::RS512,
        state,
        sealed_private: vec![1, 2, 3],
        created_at: 10,
        retired_at: None,
    }
}

pub async fn one_current_key_and_promotion_retires_it<S: Store>(s: S) {
    s.insert_key(&signing_key("k1", KeyState::Current))
        .await
        .unwrap();
    let second = s.insert_key(&signing_key("k2", KeyState::Current)).await;
    assert!(
        matches!(second, Err(StoreError::Conflict(Conflict::CurrentKey))),
        "{second:?}"
    );
    s.insert_key(&signing_key("k2", KeyState::Next))
        .await
        .unwrap();
    let same_kid = s.insert_key(&signing_key("k1", KeyState::Next)).await;
    assert!(
        matches!(same_kid, Err(StoreError::Backend(_))),
        "a second k1 is refused, and not as a racing current key (which callers accept): \
         {same_kid:?}"
    );
    s.promote_key("k2", 100).await.unwrap();
    let keys = s.signing_keys().await.unwrap();
    let k1 = keys.iter().find(|k| k.kid == "k1").unwrap();
    let k2 = keys.iter().find(|k| k.kid == "k2").unwrap();
    assert_eq!((k1.state, k1.retired_at), (KeyState::Retired, Some(100)));
    assert_eq!(k2.state, KeyState::Current);
    let missing = s.promote_key("missing", 101).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    assert_eq!(
        s.signing_keys()
            .await
            .unwrap()
            .iter()
            .filter(|k| k.state == KeyState::Current)
            .count(),
        1,
        "a failed promotion rolls back"
    );
    assert_eq!(s.delete_keys_retired_before(100).await.unwrap(), 0);
    assert_eq!(s.delete_keys_retired_before(101).await.unwrap(), 1);
}

/// The longest per-client JWT lifetime bounds how long a retired key stays published.
pub async fn the_longest_client_jwt_lifetime_is_found<S: Store>(s: S) {
    assert_eq!(s.max_client_jwt_lifetime().await.unwrap(), None);
    let owner = a_user(&s, "owner").await;
    let mut c = client("c1", owner.id, false);
    c.lifetimes.jwt = None;
    s.insert_client(&c).await.unwrap();
    assert_eq!(
        s.max_client_jwt_lifetime().await.unwrap(),
        None,
        "no override"
    );
    for (id, jwt) in [("c2", 600), ("c3", 86_400), ("c4", 30)] {
        let mut c = client(id, owner.id, true);
        c.lifetimes.jwt = Some(jwt);
        s.insert_client(&c).await.unwrap();
    }
    assert_eq!(s.max_client_jwt_lifetime().await.unwrap(), Some(86_400));
}

/// A revoked key keeps its row (the record) but loses its private part, is never promoted, and
/// is never forgotten by the janitor; the current key cannot be revoked.
pub async fn a_revoked_key_stays_revoked<S: Store>(s: S) {
    s.insert_key(&signing_key("k1", KeyState::Current))
        .await
        .unwrap();
    s.insert_key(&signing_key("k2", KeyState::Next))
        .await
        .unwrap();
    s.insert_key(&signing_key("k3", KeyState::Next))
        .await
        .unwrap();
    assert_eq!(
        s.revoke_key("k1", 50).await.unwrap(),
        KeyRevocation::Current
    );
    assert_eq!(
        s.revoke_key("nope", 50).await.unwrap(),
        KeyRevocation::Unknown
    );
    s.promote_key("k2", 100).await.unwrap();
    assert_eq!(
        s.revoke_key("k1", 110).await.unwrap(),
        KeyRevocation::Revoked
    );
    assert_eq!(
        s.revoke_key("k3", 120).await.unwrap(),
        KeyRevocation::Revoked
    );
    assert_eq!(
        s.revoke_key("k3", 130).await.unwrap(),
        KeyRevocation::AlreadyRevoked
    );
    let keys = s.signing_keys().await.unwrap();
    for (kid, at) in [("k1", 110), ("k3", 120)] {
        let k = keys.iter().find(|k| k.kid == kid).unwrap();
        assert_eq!((k.state, k.retired_at), (KeyState::Revoked, Some(at)));
        assert!(k.sealed_private.is_empty(), "{kid}'s private part is wiped");
    }
    let refused = s.promote_key("k3", 140).await;
    assert!(
        matches!(refused, Err(StoreError::NotFound(_))),
        "a revoked key never signs again: {refused:?}"
    );
    let current: Vec<_> = s
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.state == KeyState::Current)
        .map(|k| k.kid)
        .collect();
    assert_eq!(current, ["k2"], "the refused promotion rolled back");
    assert_eq!(s.delete_keys_retired_before(i64::MAX).await.unwrap(), 0);
    assert_eq!(s.signing_keys().await.unwrap().len(), 3);
}

pub async fn rotation_is_a_compare_and_swap<S: Store>(s: S) {
    let u = a_user(&s, "carol").await;
    s.start_family(
        &family("f1", u.id, 0),
        &refresh("r1", "f1", 0),
        Some(&opaque("a1", u.id, Some("f1"), 0)),
    )
    .await
    .unwrap();
    let row = s.refresh_token(&hash("r1")).await.unwrap().unwrap();
    assert_eq!((row.rotated_at, row.family_revoked), (None, false));
    assert_eq!(row.family.user_id, u.id);

    let first = s
        .rotate_refresh(
            &hash("r1"),
            5,
            b"sealed",
            &refresh("r2", "f1", 5),
            Some(&opaque("a2", u.id, Some("f1"), 5)),
        )
        .await
        .unwrap();
    assert_eq!(first, Rotation::Rotated);
    let again = s
        .rotate_refresh(&hash("r1"), 6, b"other", &refresh("r3", "f1", 6), None)
        .await
        .unwrap();
    assert_eq!(again, Rotation::Lost);
    assert!(
        s.refresh_token(&hash("r3")).await.unwrap().is_none(),
        "a lost rotation writes nothing"
    );
    let row = s.refresh_token(&hash("r1")).await.unwrap().unwrap();
    assert_eq!(row.rotated_at, Some(5));
    assert_eq!(row.successor.as_deref(), Some(&b"sealed"[..]));
    assert!(s.access_token(&hash("a2")).await.unwrap().is_some());
}

pub async fn concurrent_rotations_have_one_winner<S: Store + Clone>(s: S) {
    let u = a_user(&s, "dave").await;
    s.start_family(&family("f1", u.id, 0), &refresh("r1", "f1", 0), None)
        .await
        .unwrap();
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.rotate_refresh(
                &hash("r1"),
                1,
                b"x",
                &refresh(&format!("next{i}"), "f1", 1),
                None,
            )
            .await
            .unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.unwrap() == Rotation::Rotated {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    let mut children = 0;
    for i in 0..16 {
        children += usize::from(
            s.refresh_token(&hash(&format!("next{i}")))
                .await
                .unwrap()
                .is_some(),
        );
    }
    assert_eq!(children, 1, "exactly one successor was stored");
}

/// Polls `work` once and drops it, as hyper drops a handler whose client disconnected.
async fn abandon<F: std::future::Future>(work: F) {
    tokio::select! {
        biased;
        _ = work => {}
        _ = std::future::ready(()) => {}
    }
}

/// Waits (boundedly) until `$done` says the abandoned write landed.
macro_rules! eventually {
    ($what:expr, $done:expr) => {{
        let mut landed = false;
        for _ in 0..200 {
            if $done {
                landed = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert!(
            landed,
            "{}: the write of a caller that went away never landed",
            $what
        );
    }};
}

/// A caller that goes away mid-write (a client that disconnects) neither cancels the transaction
/// halfway nor leaves its connection inside one: the write commits whole, and the store goes on
/// working (sqlx 0.8.6 returns a connection whose `begin()` was cancelled to the pool inside a
/// server-side transaction, so every transaction runs in its own task).
pub async fn abandoned_writes_commit_whole<S: Store>(s: S) {
    let u = a_user(&s, "frank").await;
    abandon(s.start_family(
        &family("f1", u.id, 0),
        &refresh("r1", "f1", 0),
        Some(&opaque("a1", u.id, Some("f1"), 0)),
    ))
    .await;
    eventually!(
        "start_family",
        s.access_token(&hash("a1")).await.unwrap().is_some()
    );
    assert!(s.refresh_token(&hash("r1")).await.unwrap().is_some());

    abandon(s.rotate_refresh(
        &hash("r1"),
        5,
        b"sealed",
        &refresh("r2", "f1", 5),
        Some(&opaque("a2", u.id, Some("f1"), 5)),
    ))
    .await;
    eventually!(
        "rotate_refresh",
        s.access_token(&hash("a2")).await.unwrap().is_some()
    );
    let old = s.refresh_token(&hash("r1")).await.unwrap().unwrap();
    assert_eq!(
        old.rotated_at,
        Some(5),
        "the rotation committed with its new rows"
    );
    assert!(s.refresh_token(&hash("r2")).await.unwrap().is_some());

    abandon(s.insert_access_token(&opaque("a3", u.id, None, 6))).await;
    eventually!(
        "insert_access_token",
        s.access_token(&hash("a3")).await.unwrap().is_some()
    );

    abandon(s.revoke_family("f1", 7)).await;
    eventually!(
        "revoke_family",
        s.refresh_token(&hash("r2"))
            .await
            .unwrap()
            .unwrap()
            .family_revoked
    );
    assert!(
        s.access_token(&hash("a2"))
            .await
            .unwrap()
            .unwrap()
            .0
            .revoked
    );

    // Every pooled connection is still usable, and none runs a stale transaction: a fresh rotation
    // in another family commits and is seen at once.
    s.start_family(&family("f2", u.id, 8), &refresh("s1", "f2", 8), None)
        .await
        .unwrap();
    for i in 0..20 {
        let (old, new) = (format!("s{}", i + 1), format!("s{}", i + 2));
        let rotated = s
            .rotate_refresh(&hash(&old), 9 + i, b"x", &refresh(&new, "f2", 9 + i), None)
            .await
            .unwrap();
        assert_eq!(rotated, Rotation::Rotated, "rotation {i}");
    }
}

pub async fn revoking_a_family_reaches_every_token<S: Store>(s: S) {
    let u = a_user(&s, "erin").await;
    s.start_family(
        &family("f1", u.id, 0),
        &refresh("r1", "f1", 0),
        Some(&opaque("a1", u.id, Some("f1"), 0)),
    )
    .await
    .unwrap();
    s.rotate_refresh(&hash("r1"), 1, b"x", &refresh("r2", "f1", 1), None)
        .await
        .unwrap();
    s.start_family(&family("f2", u.id, 0), &refresh("other", "f2", 0), None)
        .await
        .unwrap();

    s.revoke_family("f1", 2).await.unwrap();
    assert!(
        s.refresh_token(&hash("r2"))
            .await
            .unwrap()
            .unwrap()
            .family_revoked
    );
    assert!(
        s.access_token(&hash("a1"))
            .await
            .unwrap()
            .unwrap()
            .0
            .revoked
    );
    assert!(
        s.is_jwt_revoked("jti-r1", "no-one", 0).await.unwrap(),
        "the JWT issued with r1"
    );
    assert!(
        s.is_jwt_revoked("jti-r2", "no-one", 0).await.unwrap(),
        "the JWT issued with r2"
    );
    assert!(
        !s.refresh_token(&hash("other"))
            .await
            .unwrap()
            .unwrap()
            .family_revoked
    );
    assert!(!s.is_jwt_revoked("jti-other", "no-one", 0).await.unwrap());
    let after = s
        .rotate_refresh(&hash("r2"), 3, b"x", &refresh("r3", "f1", 3), None)
        .await
        .unwrap();
    assert_eq!(after, Rotation::Lost, "a revoked family cannot rotate");
    s.revoke_family("f1", 4).await.unwrap();
}

/// Opaque access tokens inserted at once are group-committed: each row is written whole, with
/// every column as given, and a row that cannot be written (a hash already taken) fails alone.
pub async fn concurrent_access_tokens_are_written_whole_and_fail_alone<S: Store + Clone>(s: S) {
    let u = a_user(&s, "ines").await;
    s.insert_access_token(&opaque("taken", u.id, None, 0))
        .await
        .unwrap();
    let row = |i: usize| {
        let mut a = opaque(
            &format!("t{i}"),
            u.id,
            (i % 3 == 0).then_some("f9"),
            i as i64,
        );
        a.scopes = (0..i % 4).map(|k| format!("scope{k}")).collect();
        a.revoked = i % 5 == 0;
        a
    };
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (s, a) = (s.clone(), row(i));
        tasks.push(tokio::spawn(async move { s.insert_access_token(&a).await }));
    }
    let (s2, mut clash) = (s.clone(), opaque("taken", u.id, None, 7));
    clash.jti = "jti-clash".into();
    let clash = tokio::spawn(async move { s2.insert_access_token(&clash).await });
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(clash.await.unwrap().is_err(), "a taken hash is refused");
    for i in 0..64 {
        let (found, holder) = s
            .access_token(&hash(&format!("t{i}")))
            .await
            .unwrap()
            .unwrap();
        let want = row(i);
        assert_eq!(holder, u);
        assert_eq!(
            (found.jti, found.client_id, found.user_id, found.scopes),
            (want.jti, want.client_id, want.user_id, want.scopes),
            "row {i}"
        );
        assert_eq!(
            (
                found.issued_at,
                found.expires_at,
                found.family_id,
                found.revoked
            ),
            (
                want.issued_at,
                want.expires_at,
                want.family_id,
                want.revoked
            ),
            "row {i}"
        );
    }
    let (kept, _) = s.access_token(&hash("taken")).await.unwrap().unwrap();
    assert_eq!(kept.jti, "jti-taken", "the clash changed nothing");
}

/// The reads on a request's path, many at once and of two kinds, some of one hash twice and some
/// of hashes nobody stored: each finds its own row, with its own holder (PostgreSQL answers the
/// reads that arrive together with one statement, `lookup.rs`).
pub async fn concurrent_reads_each_find_their_own_row<S: Store + Clone>(s: S) {
    let (ana, ben) = (a_user(&s, "ana").await, a_user(&s, "ben").await);
    let holder = |i: usize| if i % 2 == 0 { &ana } else { &ben };
    for i in 0..24 {
        s.insert_access_token(&opaque(&format!("a{i}"), holder(i).id, None, i as i64))
            .await
            .unwrap();
        s.insert_session(&SessionRow {
            hash: hash(&format!("s{i}")),
            user_id: holder(i + 1).id,
            auth_time: i as i64,
            created_at: i as i64,
            expires_at: 1_000,
            idle_expires_at: None,
        })
        .await
        .unwrap();
    }
    let s = Arc::new(s);
    let (mut tokens, mut sessions) = (Vec::new(), Vec::new());
    // Those of 0..24 twice over; 24..32 were never stored.
    for i in (0..32).chain(0..24) {
        let (a, b) = (s.clone(), s.clone());
        tokens.push(tokio::spawn(async move {
            let found = a.access_token(&hash(&format!("a{i}"))).await.unwrap();
            (i, found.map(|(t, u)| (t.jti, u.username)))
        }));
        sessions.push(tokio::spawn(async move {
            let found = b.session(&hash(&format!("s{i}"))).await.unwrap();
            (i, found.map(|(r, u)| (r.auth_time, u.username)))
        }));
    }
    for read in tokens {
        let (i, found) = read.await.unwrap();
        let want = (i < 24).then(|| (format!("jti-a{i}"), holder(i).username.clone()));
        assert_eq!(found, want, "token {i}");
    }
    for read in sessions {
        let (i, found) = read.await.unwrap();
        let want = (i < 24).then(|| (i as i64, holder(i + 1).username.clone()));
        assert_eq!(found, want, "session {i}");
    }
}

pub async fn single_revocations<S: Store>(s: S) {
    let u = a_user(&s, "frank").await;
    s.insert_access_token(&opaque("a1", u.id, None, 0))
        .await
        .unwrap();
    assert!(s.revoke_access_token(&hash("a1")).await.unwrap());
    assert!(!s.revoke_access_token(&hash("unknown")).await.unwrap());
    let (token, holder) = s.access_token(&hash("a1")).await.unwrap().unwrap();
    assert!(token.revoked);
    assert_eq!(holder, u, "the token comes with its user");
    s.revoke_jti("j", 10).await.unwrap();
    s.revoke_jti("j", 10).await.unwrap();
    assert!(s.is_jwt_revoked("j", "no-one", 0).await.unwrap());
}

pub async fn purge_removes_only_what_cannot_matter<S: Store>(s: S) {
    let u = a_user(&s, "gina").await;
    s.insert_access_token(&opaque("old", u.id, None, 0))
        .await
        .unwrap(); // expires at 50
    s.insert_access_token(&opaque("new", u.id, None, 100))
        .await
        .unwrap(); // expires at 150
    s.start_family(&family("f1", u.id, 0), &refresh("r-old", "f1", 0), None)
        .await
        .unwrap(); // 100
    s.start_family(&family("f2", u.id, 90), &refresh("r-new", "f2", 90), None)
        .await
        .unwrap(); // 190
    s.start_family(&family("f3", u.id, 90), &refresh("r-dead", "f3", 90), None)
        .await
        .unwrap();
    s.revoke_family("f3", 95).await.unwrap();
    s.revoke_jti("j-old", 60).await.unwrap();
    s.revoke_jti("j-new", 500).await.unwrap();

    let bounded = s.purge_expired(120, 1).await.unwrap();
    assert!(bounded.access_tokens <= 1 && bounded.refresh_tokens <= 1 && bounded.families <= 1);
    let rest = s.purge_expired(120, 1000).await.unwrap();
    let total = |p: Purged| {
        (
            p.access_tokens,
            p.refresh_tokens,
            p.families,
            p.revoked_jtis,
        )
    };
    let (a, r, f, j) = total(bounded);
    let (a2, r2, f2, j2) = total(rest);
    // Removed: "old" (expired), r-old (expired), f1 (then empty) and f3 (revoked), j-old.
    assert_eq!((a + a2, r + r2, f + f2, j + j2), (1, 1, 2, 1));
    assert!(s.access_token(&hash("new")).await.unwrap().is_some());
    assert!(s.refresh_token(&hash("r-new")).await.unwrap().is_some());
    assert!(
        s.refresh_token(&hash("r-dead")).await.unwrap().is_none(),
        "went with its family"
    );
    assert!(s.is_jwt_revoked("j-new", "no-one", 0).await.unwrap());
    assert!(
        s.is_jwt_revoked("jti-r-dead", "no-one", 0).await.unwrap(),
        "revoked JWTs outlive their family"
    );
    assert_eq!(s.purge_expired(120, 1000).await.unwrap(), Purged::default());
}

/// Instantiates every conformance test for one backend; `$make` is an async fn returning a fresh,
/// empty, migrated store.
#[macro_export]
macro_rules! suite {
    ($make:path) => {
        $crate::suite!(@tests $make;
            users_are_unique_and_found_by_username_or_email,
            unicode_logins_are_found_as_django_finds_them,
            disabling_and_password_upgrades_are_precise,
            clients_round_trip_and_conflict,
            client_permissions_round_trip,
            one_current_key_and_promotion_retires_it,
            the_longest_client_jwt_lifetime_is_found,
            a_revoked_key_stays_revoked,
            rotation_is_a_compare_and_swap,
            concurrent_rotations_have_one_winner,
            abandoned_writes_commit_whole,
            revoking_a_family_reaches_every_token,
            single_revocations,
            concurrent_access_tokens_are_written_whole_and_fail_alone,
            concurrent_reads_each_find_their_own_row,
            purge_removes_only_what_cannot_matter,
            authz_rules_are_added_once_and_bump_the_version,
            authz_rules_are_removed_exactly,
            every_rule_change_is_audited,
            large_rule_sets_are_written_in_one_call,
            staff_keys_name_staff_and_superusers,
            staff_accounts_move_the_authz_version,
            only_the_newest_rotation_keeps_its_sealed_successor,
            a_revocation_racing_a_rotation_leaves_nothing_live,
            the_password_mix_counts_django_hashes,
            codes_round_trip_and_are_taken_once,
            concurrent_takes_of_a_code_have_one_winner,
            concurrent_redemptions_of_many_codes_each_answer_for_themselves,
            a_failed_redemption_fails_alone,
            codes_are_purged_by_expiry_in_batches,
            consent_is_remembered_per_user_and_client_and_revocable,
            sessions_are_found_by_hash_with_their_user,
            touching_moves_the_idle_end_forward_only,
            sessions_end_one_by_one_or_per_user,
            purge_removes_sessions_past_either_end,
            the_feed_continues_from_a_cursor,
            pages_never_split_a_transaction,
            a_cut_off_ends_everything_a_user_holds,
            old_not_before_instants_are_purged,
            writes_announce_what_they_change,
        );
    };
    (@tests $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                conformance::$name($make().await).await;
            }
        )*
    };
}

/// Users written before migration 0005 (in SQL, as the old binary did): emails that the old
/// `lower(email)` index let in twice because it folded ASCII only, or not composition.
pub const USERS_BEFORE_0005: &str =
    "INSERT INTO users (username, email, email_verified, sub, created_at) VALUES \
     ('elodie', 'ÉLODIE@example.fr', TRUE, '00000000000000000000000000000001', 1), \
     ('elodie2', 'E\u{301}lodie@example.fr', TRUE, '00000000000000000000000000000002', 1), \
     ('zoe', 'ZOË@Example.de', TRUE, '00000000000000000000000000000003', 1)";

/// The migrations before 0005 of one backend, in a folder of their own, to build an old database.
pub fn migrations_before_0005(backend: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for entry in std::fs::read_dir(all).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < "0005" {
            std::fs::copy(&path, dir.path().join(name)).unwrap();
        }
    }
    dir
}

/// A test that builds a database as the binary before migration 0005 left it, with
/// `USERS_BEFORE_0005` in it, then migrates it (twice: every start does) and checks it.
#[macro_export]
macro_rules! users_from_before_0005 {
    ($backend:literal, $variant:path, $url:expr) => {
        #[tokio::test]
        async fn users_from_before_0005_get_email_keys() {
            let $variant(s) = latchkey_store::connect(&$url).await.unwrap() else {
                unreachable!()
            };
            let old = conformance::migrations_before_0005($backend);
            let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
            migrator.run(s.pool()).await.unwrap();
            sqlx::query(conformance::USERS_BEFORE_0005)
                .execute(s.pool())
                .await
                .unwrap();
            s.migrate().await.unwrap();
            s.migrate().await.unwrap();
            conformance::users_from_before_0005_get_email_keys(&s).await;
        }
    };
}

/// After `migrate`, on a database made by `migrations_before_0005` and `USERS_BEFORE_0005`.
pub async fn users_from_before_0005_get_email_keys<S: Store>(s: &S) {
    let id = |name: &'static str| async move { s.user_by_login(name).await.unwrap().unwrap().id };
    let (elodie, zoe) = (id("elodie").await, id("zoe").await);
    let by_email =
        |login: &'static str| async move { s.user_by_login(login).await.unwrap().map(|u| u.id) };
    assert_eq!(by_email("zoë@example.DE").await, Some(zoe));
    // Of two old rows with one key, the first keeps its email sign-in; the other signs in by
    // username only (the store warns at every start).
    assert_eq!(by_email("élodie@example.fr").await, Some(elodie));
    assert!(id("elodie2").await > elodie);
    let dup = s.insert_user(&user_row("zoe2", "Zoë@example.de")).await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(Conflict::Email))),
        "{dup:?}"
    );
}
