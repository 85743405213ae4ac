//! How sqlx's errors become [`StoreError`]s: a unique violation becomes the [`Conflict`] its
//! constraint stands for, found by the constraint's name, never by guessing from the message.

use latchkey_core::store::{Conflict, StoreError};

/// One unique constraint (or unique index) of the schema.
struct Unique {
    /// Its name, as PostgreSQL reports it: the name the migration gives it, else PostgreSQL's
    /// default (`<table>_pkey`, `<table>_<column>_key`), which migration 0001 relies on.
    name: &'static str,
    /// The columns SQLite names instead. SQLite reports no constraint name, only
    /// `UNIQUE constraint failed: <table>.<column>, …` (the same text for a primary key), so the
    /// column list is how a violation on SQLite finds its name. Each list is unique to one
    /// constraint; the test below checks both halves against the migrated schemas.
    sqlite_columns: &'static str,
    /// What a caller is told; `None` for a constraint no caller can run into but by a bug (random
    /// ids, keyed hashes): that stays a backend error, which names the constraint.
    conflict: Option<Conflict>,
}

/// Every unique constraint of both schemas. A migration that adds one adds it here.
const UNIQUE: &[Unique] = &[
    Unique {
        name: "users_pkey",
        sqlite_columns: "users.id",
        conflict: None,
    },
    Unique {
        name: "users_username_key",
        sqlite_columns: "users.username",
        conflict: Some(Conflict::Username),
    },
    Unique {
        name: "users_sub_key",
        sqlite_columns: "users.sub",
        conflict: Some(Conflict::Subject),
    },
    Unique {
        name: "users_email_key",
        sqlite_columns: "users.email_key",
        conflict: Some(Conflict::Email),
    },
    Unique {
        name: "clients_pkey",
        sqlite_columns: "clients.id",
        conflict: Some(Conflict::ClientId),
    },
    Unique {
        name: "clients_owner_name",
        sqlite_columns: "clients.owner_id, clients.name",
        conflict: Some(Conflict::ClientName),
    },
    Unique {
        // One origin per imported row: the importer reads origins before it writes.
        name: "import_origins_pkey",
        sqlite_columns: "import_origins.source, import_origins.kind, import_origins.upstream_key",
        conflict: None,
    },
    Unique {
        name: "signing_keys_pkey",
        sqlite_columns: "signing_keys.kid",
        conflict: None,
    },
    Unique {
        name: "signing_keys_one_current",
        sqlite_columns: "signing_keys.state",
        conflict: Some(Conflict::CurrentKey),
    },
    Unique {
        name: "access_tokens_pkey",
        sqlite_columns: "access_tokens.hash",
        conflict: None,
    },
    Unique {
        name: "refresh_families_pkey",
        sqlite_columns: "refresh_families.id",
        conflict: None,
    },
    Unique {
        name: "refresh_tokens_pkey",
        sqlite_columns: "refresh_tokens.hash",
        conflict: None,
    },
    Unique {
        name: "revoked_jtis_pkey",
        sqlite_columns: "revoked_jtis.jti",
        conflict: None,
    },
    Unique {
        name: "revocation_cursor_pkey",
        sqlite_columns: "revocation_cursor.id",
        conflict: None,
    },
    Unique {
        name: "user_not_before_pkey",
        sqlite_columns: "user_not_before.user_id",
        conflict: None,
    },
    Unique {
        name: "sessions_pkey",
        sqlite_columns: "sessions.hash",
        conflict: None,
    },
    Unique {
        name: "authz_rules_pkey",
        sqlite_columns: "authz_rules.id",
        conflict: None,
    },
    Unique {
        name: "authz_rules_unique",
        sqlite_columns: "authz_rules.ptype, authz_rules.v0, authz_rules.v1, authz_rules.v2, \
                         authz_rules.v3, authz_rules.v4, authz_rules.v5",
        conflict: None,
    },
    Unique {
        name: "authz_state_pkey",
        sqlite_columns: "authz_state.id",
        conflict: None,
    },
    Unique {
        name: "audit_events_pkey",
        sqlite_columns: "audit_events.id",
        conflict: None,
    },
    Unique {
        name: "authorization_codes_pkey",
        sqlite_columns: "authorization_codes.hash",
        conflict: None,
    },
    // Written only with ON CONFLICT: a second consent replaces the first.
    Unique {
        name: "consents_pkey",
        sqlite_columns: "consents.user_id, consents.client_id",
        conflict: None,
    },
];

/// The unique constraint this error violated, if it is a unique violation.
fn violated(e: &sqlx::Error) -> Option<&'static Unique> {
    let sqlx::Error::Database(db) = e else {
        return None;
    };
    if !db.is_unique_violation() {
        return None;
    }
    match db.constraint() {
        Some(name) => UNIQUE.iter().find(|u| u.name == name),
        None => {
            let columns = db.message().strip_prefix("UNIQUE constraint failed: ")?;
            UNIQUE.iter().find(|u| u.sqlite_columns == columns)
        }
    }
}

/// A sqlx error as the store reports it: a unique violation a caller can cause as its
/// [`Conflict`], a database that did not answer as [`StoreError::Unavailable`] (worth a retry),
/// anything else as a backend error.
pub fn backend(e: sqlx::Error) -> StoreError {
    if unreachable(&e) {
        return StoreError::Unavailable(Box::new(e));
    }
    match violated(&e).and_then(|u| u.conflict.clone()) {
        Some(c) => StoreError::Conflict(c),
        None => StoreError::Backend(Box::new(e)),
    }
}

/// The connection failed, none could be had in time, or PostgreSQL is shutting down or starting
/// (SQLSTATE classes 08, connection exception, and 57P, operator intervention).
fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

pub fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use sqlx::Connection;

    use super::UNIQUE;
    use crate::{open, Backend};

    /// Every unique constraint of the migrated SQLite schema, by the columns a violation names,
    /// is in [`UNIQUE`], and every entry there is in the schema: a migration that adds a
    /// constraint without naming it here fails this.
    #[tokio::test]
    async fn the_table_names_every_sqlite_unique_constraint() {
        let Ok(Backend::Sqlite(s)) = open("sqlite::memory:").await else {
            panic!("an in-memory SQLite database opens as SQLite");
        };
        let pool = s.pool();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let mut schema = BTreeSet::new();
        for table in &tables {
            let spell = |columns: Vec<String>| {
                columns
                    .iter()
                    .map(|c| format!("{table}.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            // A rowid primary key (`INTEGER PRIMARY KEY`) has no index of its own.
            let key: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk",
            )
            .bind(table)
            .fetch_all(pool)
            .await
            .unwrap();
            if !key.is_empty() {
                schema.insert(spell(key));
            }
            let indexes: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_index_list($1) WHERE \"unique\" = 1")
                    .bind(table)
                    .fetch_all(pool)
                    .await
                    .unwrap();
            for index in indexes {
                let columns: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                        .bind(&index)
                        .fetch_all(pool)
                        .await
                        .unwrap();
                schema.insert(spell(columns));
            }
        }
        let named: BTreeSet<String> = UNIQUE.iter().map(|u| u.sqlite_columns.into()).collect();
        assert_eq!(schema, named);
    }

    /// The same on PostgreSQL, by name (`LATCHKEY_TEST_POSTGRES_URL`, else the machine's server;
    /// no server is a failure).
    #[tokio::test]
    async fn the_table_names_every_postgres_unique_constraint() {
        let admin = std::env::var("LATCHKEY_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required for this test: {e}"));
        let name = format!("latchkey_test_constraints_{}", std::process::id());
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap();
        let Ok(Backend::Postgres(s)) = open(&format!("{base}/{name}")).await else {
            panic!("a postgres URL opens as PostgreSQL");
        };
        let schema: BTreeSet<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE i.indisunique AND n.nspname = current_schema() \
             AND c.relname <> '_sqlx_migrations_pkey'",
        )
        .fetch_all(s.pool())
        .await
        .unwrap()
        .into_iter()
        .collect();
        s.pool().close().await;
        // FORCE: a closed pool's backends may still be exiting on a loaded machine.
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .unwrap();
        let named: BTreeSet<String> = UNIQUE
            .iter()
            .map(|u| u.name)
            .chain(POSTGRES_ONLY.iter().copied())
            .map(String::from)
            .collect();
        assert_eq!(schema, named);
    }

    /// Keys of tables SQLite does not have, written only with `ON CONFLICT` (`attempts.rs`): no
    /// caller can meet them, and they are kept out of [`UNIQUE`], whose SQLite half must match
    /// SQLite's schema.
    const POSTGRES_ONLY: &[&str] = &["password_limits_pkey"];
}
