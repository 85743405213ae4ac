//! The storage conformance suite on the real PostgreSQL server: a fresh database per test.
//! The server is `LATCHKEY_TEST_POSTGRES_URL`, else the machine's `postgres://postgres@127.0.0.1:5432`.
//! No server is a failure, never a skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod conformance;

use latchkey_store::{open, Backend, PgStore};
use sqlx::Connection;

pub async fn fresh() -> PgStore {
    match open(&fresh_database().await).await.unwrap() {
        Backend::Postgres(s) => s,
        Backend::Sqlite(_) => unreachable!(),
    }
}

/// The server's maintenance database, where tests create theirs.
fn admin_url() -> String {
    std::env::var("LATCHKEY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// An empty database's URL.
async fn fresh_database() -> String {
    let admin = admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required for this suite: {e}"));
    let name = format!("latchkey_test_{}", uuid_like());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap();
    format!("{base}/{name}")
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    #[allow(clippy::disallowed_methods)]
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{}", std::process::id(), nanos)
}

suite!(fresh);

/// Password attempt counters are PostgreSQL's alone: SQLite's one node counts in process.
mod attempts {
    use super::{conformance, fresh};

    macro_rules! on_postgres {
        ($($name:ident),* $(,)?) => {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    conformance::attempts::$name(fresh().await).await;
                }
            )*
        };
    }

    on_postgres!(
        a_counter_refuses_at_its_limit_until_its_window_ends,
        an_ending_keeps_gives_back_or_forgives,
        a_refusing_network_leaves_the_account_alone,
        parallel_attempts_take_exactly_the_limit,
        reservations_and_endings_never_deadlock,
        ended_windows_are_purged_in_batches,
    );
}

#[tokio::test]
async fn a_public_client_row_cannot_hold_permissions() {
    let s = fresh().await;
    let grant = conformance::public_client_to_grant(&s).await;
    let refused = sqlx::query(grant).execute(s.pool()).await;
    assert!(refused.is_err(), "{refused:?}");
}

users_from_before_0005!("postgres", Backend::Postgres, fresh_database().await);

/// Replicas started at once on a new database (a deployment's first rollout): every one of them
/// opens it, and each migration is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_opening_a_new_database_at_once_all_migrate_it() {
    let url = fresh_database().await;
    let opening: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { open(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for node in opening {
        match node.await.unwrap() {
            Ok(Backend::Postgres(s)) => stores.push(s),
            Ok(Backend::Sqlite(_)) => unreachable!(),
            Err(e) => panic!("a node could not open the new database: {e}"),
        }
    }
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(stores[0].pool())
            .await
            .unwrap();
    let versions: Vec<i64> = applied.iter().map(|m| m.0).collect();
    let mut unique = versions.clone();
    unique.dedup();
    assert_eq!(versions, unique, "a migration was recorded twice");
    assert!(applied.iter().all(|m| m.1), "{applied:?}");
    assert!(!applied.is_empty());
}

/// Whether the opaque access token `token` is found.
async fn stored(s: &PgStore, token: &str) -> bool {
    use latchkey_core::store::TokenStore;
    let found = s.access_token(&conformance::hash(token)).await.unwrap();
    found.is_some()
}

/// The database restarted, or closed idle sessions, between two bursts of opaque tokens: the
/// access-token writer's connection and those kept for reads are gone, and the next token is
/// still written and read (on new ones), not refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opaque_tokens_are_written_and_read_after_the_database_dropped_every_connection() {
    use latchkey_core::store::{TokenStore, UserStore};
    let s = fresh().await;
    let u = s
        .insert_user(&conformance::user_row("otto", "otto@example.org"))
        .await
        .unwrap();
    s.insert_access_token(&conformance::opaque("before", u.id, None, 0))
        .await
        .unwrap();
    assert!(stored(&s, "before").await, "before");
    let mut conn = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(s.pool())
        .await
        .unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
    )
    .bind(&database)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(
        ended.len() >= 3,
        "the pool's, the writer's, a reader's: {ended:?}"
    );
    assert!(stored(&s, "before").await, "before");
    s.insert_access_token(&conformance::opaque("after", u.id, None, 1))
        .await
        .unwrap();
    assert!(stored(&s, "after").await, "after");
}
