//! The storage conformance suite on SQLite (a fresh file per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;

use latchkey_store::{open, Backend, SqliteStore};

async fn fresh() -> SqliteStore {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    // The directory must outlive the store; tests are short, so leak it.
    std::mem::forget(dir);
    match open(&url).await.unwrap() {
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
