//! The storage conformance suite on SQLite (a fresh file per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;

use latchkey_store::{connect, open, Backend, SqliteStore};

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
async fn users_from_before_0005_get_email_keys() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let Backend::Sqlite(s) = connect(&url).await.unwrap() else {
        unreachable!()
    };
    let old = conformance::migrations_before_0005("sqlite");
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
