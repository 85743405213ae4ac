//! The store on PostgreSQL: `backend.rs` and the files it names, compiled with [`Db`] = sqlx's
//! PostgreSQL driver.

/// The sqlx driver the per-backend code is compiled for.
pub(crate) type Db = sqlx::Postgres;

/// PostgreSQL's writers run in parallel, each locking only the rows it changes.
pub(crate) const ONE_WRITER: bool = false;

/// After an import that inserted users with their upstream ids: the identity sequence moves past
/// the largest, so that a user created afterwards never takes an imported id.
pub(crate) const ADVANCE_USER_IDS: Option<&str> =
    Some("SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))");

/// How an import looks up a batch's origins (`import.rs`): joined to the keys as a `VALUES` table.
/// PostgreSQL compares a bound `IN (…)` list element by element for every row it scans, and its
/// statistics lag behind a table an import is filling, so that form grew quadratically.
pub(crate) const KEYS_JOINED: bool = true;

/// A change is announced by `NOTIFY` inside the transaction that makes it: PostgreSQL delivers it
/// at commit and drops it on rollback, so no notice is ever early, lost in between or false.
pub(crate) const NOTIFY: Option<&str> = Some("SELECT pg_notify('latchkey', $1)");
/// Every node listens (`listen.rs`).
pub(crate) const LISTENER: Option<fn(sqlx::Pool<Db>, crate::notices::Sender)> =
    Some(crate::listen::spawn);

/// A group-committed batch of opaque access tokens (`tokens.rs`) as one statement whose text is the
/// same for every batch: each column's values go as one array, unnested into rows. A `VALUES` list
/// is a new statement for every batch size, which a connection parses and plans afresh for each
/// size it meets (up to 100 of them).
pub(crate) const ACCESS_ROWS: Option<crate::batch::AccessRows<Db>> = Some(unnested_access_rows);

fn unnested_access_rows(
    rows: &[latchkey_core::store::AccessTokenRow],
) -> sqlx::query::Query<'_, Db, sqlx::postgres::PgArguments> {
    sqlx::query(
        "INSERT INTO access_tokens \
         (hash, jti, client_id, user_id, scopes, issued_at, expires_at, family_id, revoked) \
         SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::text[], $4::int8[], $5::text[], \
         $6::int8[], $7::int8[], $8::text[], $9::bool[])",
    )
    .bind(rows.iter().map(|a| a.hash.as_bytes()).collect::<Vec<_>>())
    .bind(rows.iter().map(|a| a.jti.as_str()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|a| a.client_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|a| a.user_id.0).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|a| crate::codec::join(&a.scopes))
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|a| a.issued_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|a| a.expires_at).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|a| a.family_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|a| a.revoked).collect::<Vec<_>>())
}

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

// The same files as `sqlite.rs` includes: see `backend.rs` for why.
#[allow(clippy::duplicate_mod)]
#[path = "backend.rs"]
mod backend;
