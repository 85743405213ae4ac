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
/// [`Conflict`], anything else as a backend error.
pub fn backend(e: sqlx::Error) -> StoreError {
    match violated(&e).and_then(|u| u.conflict.clone()) {
        Some(c) => StoreError::Conflict(c),
        None => StoreError::Backend(Box::new(e)),
    }
}

pub fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}
