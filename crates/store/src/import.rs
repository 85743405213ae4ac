//! Imports from other systems: [`ImportStore`]. Rows keep their upstream ids and record their
//! origin in `import_origins`; tokens already stored are left as they are, so a re-run adds
//! nothing.

use async_trait::async_trait;
use latchkey_core::notice::Change;
use latchkey_core::store::{
    AccessTokenRow, Family, ImportApplied, ImportOrigin, ImportStep, ImportStore, ImportWrite,
    ImportedUser, NewRefresh, StoreError, UserFields,
};
use latchkey_core::user::{email_key, User};
use sqlx::Row;
use tokio::sync::mpsc::Receiver;

use super::clients::{insert_client, update_imported_client};
use super::tokens::{access_insert, family_insert, refresh_insert, statements};
use super::users::{user, user_columns};
use super::{Conn, Db, ADVANCE_USER_IDS, KEYS_JOINED};
use crate::errors::backend;
use crate::store::SqlStore;
use crate::write::Ending;

/// Rows per multi-row `INSERT`: 13 parameters a user, under SQLite's 32 766.
const ROWS_PER_INSERT: usize = 1000;

#[async_trait]
impl ImportStore for SqlStore<Db> {
    async fn native_users(&self, source: &str) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            // `NOT IN` a subquery, which both backends turn into one hash or index of the
            // origins: a correlated `NOT EXISTS` was planned as a scan of the origins per user on
            // PostgreSQL right after an import (no statistics yet), quadratic in the users.
            " FROM users WHERE CAST(id AS TEXT) NOT IN (SELECT upstream_key FROM import_origins \
             WHERE source = $1 AND kind = 'user') ORDER BY id"
        ))
        .bind(source)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(user)
            .collect::<Result<_, _>>()
            .map_err(backend)
    }

    async fn import_origins(
        &self,
        source: &str,
        kind: &str,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut found = Vec::new();
        for chunk in keys.chunks(ROWS_PER_INSERT) {
            let mut select = origins_by_keys(source, kind, chunk);
            let rows = select
                .build()
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
            for r in rows {
                found.push((
                    r.try_get("upstream_key").map_err(backend)?,
                    r.try_get("digests").map_err(backend)?,
                ));
            }
        }
        Ok(found)
    }

    async fn apply_import(
        &self,
        source: &str,
        now: i64,
        mut steps: Receiver<ImportStep>,
        commit: bool,
    ) -> Result<ImportApplied, StoreError> {
        let source = source.to_owned();
        let ending = if commit {
            Ending::Commit
        } else {
            Ending::RollBack
        };
        self.announcing_then(ending, move |tx| {
            Box::pin(async move {
                let mut run = Run::default();
                loop {
                    match steps.recv().await {
                        Some(ImportStep::Write(writes)) => {
                            run.apply(tx, &source, now, writes).await?
                        }
                        Some(ImportStep::End) => break,
                        // The importer failed: returning an error rolls back everything.
                        None => {
                            return Err(StoreError::Backend(
                                "the import stopped before its end; nothing was kept".into(),
                            ))
                        }
                    }
                }
                run.finish(tx).await?;
                // Users, clients and tokens changed at once: every node drops every cache.
                Ok((run.applied, Some(Change::Everything)))
            })
        })
        .await
    }
}

/// The look-up of a batch's origins, in the form each backend's planner serves in time linear in
/// the batch (`KEYS_JOINED`, see `sqlite.rs` and `postgres.rs`): every row's primary key probed
/// once per key. Measured on 60 000 users: the other form took PostgreSQL 32 s instead of 3, and
/// SQLite minutes instead of seconds.
fn origins_by_keys<'a>(
    source: &'a str,
    kind: &'a str,
    keys: &'a [String],
) -> sqlx::QueryBuilder<'a, Db> {
    let mut select = sqlx::QueryBuilder::<Db>::new("SELECT o.upstream_key, o.digests FROM ");
    if KEYS_JOINED {
        select.push("(VALUES ");
        let mut values = select.separated(", ");
        for k in keys {
            values
                .push("(")
                .push_bind_unseparated(k.as_str())
                .push_unseparated(")");
        }
        select.push(") AS k JOIN import_origins o ON o.upstream_key = k.column1 AND o.source = ");
        select
            .push_bind(source)
            .push(" AND o.kind = ")
            .push_bind(kind);
    } else {
        select.push("import_origins o WHERE o.source = ");
        select
            .push_bind(source)
            .push(" AND o.kind = ")
            .push_bind(kind);
        select.push(" AND o.upstream_key IN (");
        let mut list = select.separated(", ");
        for k in keys {
            list.push_bind(k.as_str());
        }
        select.push(")");
    }
    select
}

/// One transaction's worth of an import.
#[derive(Default)]
struct Run {
    applied: ImportApplied,
    new_users: bool,
    staff_changed: bool,
}

impl Run {
    async fn apply(
        &mut self,
        conn: &mut Conn,
        source: &str,
        now: i64,
        writes: Vec<ImportWrite>,
    ) -> Result<(), StoreError> {
        let mut new_users = Vec::new();
        let mut origins = Vec::new();
        let mut refresh = Vec::new();
        let mut access = Vec::new();
        // Users first (clients name them as owners), then clients, then tokens.
        for w in &writes {
            match w {
                ImportWrite::NewUser(u, origin) => {
                    self.staff_changed |= u.row.is_staff || u.row.is_superuser;
                    new_users.push(u);
                    origins.push(origin);
                }
                ImportWrite::UserChanges(u, fields, origin) => {
                    self.staff_changed |= fields.flags;
                    update_user(conn, u, fields).await?;
                    origins.push(origin);
                }
                _ => {}
            }
        }
        for chunk in new_users.chunks(ROWS_PER_INSERT) {
            insert_users(conn, chunk).await?;
            self.new_users = true;
        }
        for w in &writes {
            match w {
                ImportWrite::NewClient(c, origin) => {
                    insert_client(conn, c).await?;
                    origins.push(origin);
                }
                ImportWrite::ClientChanges {
                    client,
                    secret,
                    origin,
                } => {
                    update_imported_client(conn, client, *secret).await?;
                    origins.push(origin);
                }
                ImportWrite::Refresh(family, first) => refresh.push((family, first)),
                ImportWrite::AccessToken(row) => access.push(row),
                ImportWrite::NewUser(..) | ImportWrite::UserChanges(..) => {}
            }
        }
        for chunk in origins.chunks(ROWS_PER_INSERT) {
            record_origins(conn, source, now, chunk).await?;
        }
        for chunk in refresh.chunks(ROWS_PER_INSERT) {
            self.applied.new_refresh_tokens += insert_refresh_families(conn, chunk).await?;
        }
        for chunk in access.chunks(ROWS_PER_INSERT) {
            self.applied.new_access_tokens += insert_access_tokens(conn, chunk).await?;
        }
        Ok(())
    }

    async fn finish(&self, conn: &mut Conn) -> Result<(), StoreError> {
        if self.staff_changed {
            // As `insert_user` does: the staff bypass decides too, so its change is a policy
            // change every node and guard sees. Not at version 0 ("seed the default policy").
            sqlx::query(
                "UPDATE authz_state SET version = version + 1 WHERE id = 1 AND version > 0",
            )
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        }
        if let (true, Some(advance)) = (self.new_users, ADVANCE_USER_IDS) {
            sqlx::query(advance)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
        }
        Ok(())
    }
}

async fn insert_users(conn: &mut Conn, users: &[&ImportedUser]) -> Result<(), StoreError> {
    let mut insert = sqlx::QueryBuilder::<Db>::new(
        "INSERT INTO users (id, username, email, name, given_name, family_name, email_verified, \
         is_staff, is_superuser, password_hash, sub, created_at, email_key) ",
    );
    insert.push_values(users, |mut b, u| {
        b.push_bind(u.id.0)
            .push_bind(u.row.username.as_str())
            .push_bind(u.row.email.as_str())
            .push_bind(u.row.name.as_str())
            .push_bind(u.given_name.as_str())
            .push_bind(u.family_name.as_str())
            .push_bind(u.row.email_verified)
            .push_bind(u.row.is_staff)
            .push_bind(u.row.is_superuser)
            .push_bind(u.row.password_hash.as_deref())
            .push_bind(u.row.sub.as_str())
            .push_bind(u.row.created_at)
            .push_bind(email_key(&u.row.email));
    });
    insert.build().execute(conn).await.map_err(backend)?;
    Ok(())
}

/// Writes the fields that changed upstream, and only those: a password rehashed at sign-in since
/// the last import stays unless the source changed it too.
async fn update_user(conn: &mut Conn, u: &ImportedUser, f: &UserFields) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE users SET \
         username = CASE WHEN $2 THEN $3 ELSE username END, \
         email = CASE WHEN $4 THEN $5 ELSE email END, \
         email_key = CASE WHEN $4 THEN $6 ELSE email_key END, \
         name = CASE WHEN $7 THEN $8 ELSE name END, \
         given_name = CASE WHEN $7 THEN $9 ELSE given_name END, \
         family_name = CASE WHEN $7 THEN $10 ELSE family_name END, \
         password_hash = CASE WHEN $11 THEN $12 ELSE password_hash END, \
         is_staff = CASE WHEN $13 THEN $14 ELSE is_staff END, \
         is_superuser = CASE WHEN $13 THEN $15 ELSE is_superuser END, \
         email_verified = CASE WHEN $16 THEN $17 ELSE email_verified END, \
         sub = CASE WHEN $18 THEN $19 ELSE sub END \
         WHERE id = $1",
    )
    .bind(u.id.0)
    .bind(f.username)
    .bind(&u.row.username)
    .bind(f.email)
    .bind(&u.row.email)
    .bind(email_key(&u.row.email))
    .bind(f.names)
    .bind(&u.row.name)
    .bind(&u.given_name)
    .bind(&u.family_name)
    .bind(f.password)
    .bind(&u.row.password_hash)
    .bind(f.flags)
    .bind(u.row.is_staff)
    .bind(u.row.is_superuser)
    .bind(f.email_verified)
    .bind(u.row.email_verified)
    .bind(f.sub)
    .bind(&u.row.sub)
    .execute(conn)
    .await
    .map_err(backend)?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::NotFound(format!("imported user {}", u.id.0)))
    }
}

async fn record_origins(
    conn: &mut Conn,
    source: &str,
    now: i64,
    origins: &[&ImportOrigin],
) -> Result<(), StoreError> {
    let mut upsert = sqlx::QueryBuilder::<Db>::new(
        "INSERT INTO import_origins (source, kind, upstream_key, digests, imported_at) ",
    );
    upsert.push_values(origins, |mut b, o| {
        b.push_bind(source)
            .push_bind(o.kind)
            .push_bind(o.key.as_str())
            .push_bind(o.digests.as_str())
            .push_bind(now);
    });
    upsert.push(
        " ON CONFLICT (source, kind, upstream_key) DO UPDATE SET digests = excluded.digests, \
         imported_at = excluded.imported_at",
    );
    upsert.build().execute(conn).await.map_err(backend)?;
    Ok(())
}

/// Each refresh token with its own family; returns how many tokens were not stored already.
async fn insert_refresh_families(
    conn: &mut Conn,
    rows: &[(&Family, &NewRefresh)],
) -> Result<u64, StoreError> {
    let families: Vec<&Family> = rows.iter().map(|(f, _)| *f).collect();
    let mut insert = statements();
    family_insert(&mut insert, families.iter().copied());
    insert.push(" ON CONFLICT (id) DO NOTHING");
    insert.build().execute(&mut *conn).await.map_err(backend)?;
    let firsts: Vec<&NewRefresh> = rows.iter().map(|(_, n)| *n).collect();
    let mut insert = statements();
    refresh_insert(&mut insert, firsts.iter().copied());
    insert.push(" ON CONFLICT (hash) DO NOTHING");
    let done = insert.build().execute(conn).await.map_err(backend)?;
    Ok(done.rows_affected())
}

async fn insert_access_tokens(
    conn: &mut Conn,
    rows: &[&AccessTokenRow],
) -> Result<u64, StoreError> {
    let mut insert = statements();
    access_insert(&mut insert, rows.iter().copied());
    insert.push(" ON CONFLICT (hash) DO NOTHING");
    let done = insert.build().execute(conn).await.map_err(backend)?;
    Ok(done.rows_affected())
}
