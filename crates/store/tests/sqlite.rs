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
