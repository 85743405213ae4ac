//! The storage conformance suite on SQLite (a fresh file per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;

use latchkey_store::{open, Backend, SqliteStore};

async fn fresh() -> SqliteStore {
    match open(&fresh_url()).await.unwrap() {
        Backend::Sqlite(s) => s,
        Backend::Postgres(_) => unreachable!(),
    }
}

suite!(fresh);

#[tokio::test]
async fn a_public_client_row_cannot_hold_permissions() {
    let s = fresh().await;
    let grant = conformance::public_client_to_grant(&s).await;
    let refused = sqlx::query(grant).execute(s.pool()).await;
    assert!(refused.is_err(), "{refused:?}");
}

/// A new SQLite file's URL. The folder must outlive the store; tests are short, so it is leaked.
fn fresh_url() -> String {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    std::mem::forget(dir);
    url
}

users_from_before_0005!("sqlite", Backend::Sqlite, fresh_url());

/// Every write path at once, from 64 tasks, on one SQLite file in WAL mode: none fails and none is
/// lost. The store under test waits for no lock at all (busy timeout 0, where `open` waits 10 s),
/// so a write that skips the process's write turn meets another writer and fails at once with
/// `database is locked`, instead of hiding in the busy handler's sleeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_write_path_takes_its_turn() {
    use std::str::FromStr;
    use std::sync::Arc;

    use conformance::*;
    use latchkey_core::store::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    const TASKS: usize = 64;
    const ROTATIONS: usize = 3;
    let url = fresh_url();
    let Backend::Sqlite(migrated) = open(&url).await.unwrap() else {
        unreachable!()
    };
    let impatient = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(std::time::Duration::ZERO)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(impatient)
        .await
        .unwrap();
    let s = Arc::new(SqliteStore::new(pool));
    s.insert_key(&signing_key("k", KeyState::Current))
        .await
        .unwrap();

    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let u = a_user(&*s, &format!("user{i}")).await;
                let mut c = client(&format!("c{i}"), u.id, false);
                s.insert_client(&c).await.unwrap();
                c.scopes.push("profile".into());
                s.update_client(&c).await.unwrap();

                let kid = format!("k{i}");
                s.insert_key(&signing_key(&kid, KeyState::Next))
                    .await
                    .unwrap();
                s.promote_key(&kid, 100).await.unwrap();

                let who = format!("u{i}");
                let rules = [
                    rule("p", &[who.as_str(), "a"]),
                    rule("p", &[who.as_str(), "b"]),
                ];
                assert_eq!(s.add_authz_rules(&rules, "test", 1).await.unwrap(), 2);
                assert_eq!(
                    s.remove_authz_rules(&rules[..1], "test", 2).await.unwrap(),
                    1
                );

                let f = format!("f{i}");
                s.insert_access_token(&opaque(&format!("alone{i}"), u.id, None, 0))
                    .await
                    .unwrap();
                s.start_family(
                    &family(&f, u.id, 0),
                    &refresh(&format!("{f}r0"), &f, 0),
                    Some(&opaque(&format!("{f}a0"), u.id, Some(&f), 0)),
                )
                .await
                .unwrap();
                for n in 1..=ROTATIONS {
                    let rotated = s
                        .rotate_refresh(
                            &hash(&format!("{f}r{}", n - 1)),
                            n as i64,
                            b"sealed",
                            &refresh(&format!("{f}r{n}"), &f, n as i64),
                            Some(&opaque(&format!("{f}a{n}"), u.id, Some(&f), n as i64)),
                        )
                        .await
                        .unwrap();
                    assert_eq!(rotated, Rotation::Rotated);
                }

                let code_name = format!("code{i}");
                s.insert_code(&code(&code_name, &c.id, u.id, 0))
                    .await
                    .unwrap();
                let code_family = format!("{f}c");
                assert!(s
                    .redeem_code(
                        &hash(&code_name),
                        1,
                        &family(&code_family, u.id, 1),
                        &refresh(&format!("{code_family}r0"), &code_family, 1),
                        Some(&opaque(
                            &format!("{code_family}a0"),
                            u.id,
                            Some(&code_family),
                            1
                        )),
                    )
                    .await
                    .unwrap());
                let consent = Consent {
                    user_id: u.id,
                    client_id: c.id.clone(),
                    scopes: vec!["read".into()],
                    granted_at: 1,
                };
                s.save_consent(&consent).await.unwrap();
                s.save_consent(&consent).await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }

    let count = |table: &'static str| {
        let pool = migrated.pool().clone();
        async move {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&pool)
                .await
                .unwrap();
            usize::try_from(n).unwrap()
        }
    };
    let n = TASKS;
    assert_eq!(count("users").await, n);
    assert_eq!(count("clients").await, n);
    let updated = migrated.list_clients().await.unwrap();
    assert!(
        updated.iter().all(|c| c.scopes.len() == 2),
        "every update landed"
    );
    assert_eq!(count("signing_keys").await, n + 1);
    let keys = migrated.signing_keys().await.unwrap();
    let current = keys.iter().filter(|k| k.state == KeyState::Current).count();
    assert_eq!(current, 1, "promotions took turns");
    assert_eq!(count("authz_rules").await, n);
    assert_eq!(count("audit_events").await, 3 * n);
    assert_eq!(migrated.authz_version().await.unwrap(), 2 * n as i64);
    assert_eq!(count("refresh_families").await, 2 * n);
    assert_eq!(count("refresh_tokens").await, n * (2 + ROTATIONS));
    assert_eq!(count("access_tokens").await, n * (3 + ROTATIONS));
    assert_eq!(count("authorization_codes").await, n);
    assert_eq!(count("consents").await, n);
}
