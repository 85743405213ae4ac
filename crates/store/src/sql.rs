//! One body of SQL for both backends. The statements use only what SQLite and PostgreSQL share
//! (`$n` parameters, `RETURNING`, `ON CONFLICT`, partial indexes), so the store is written once and
//! instantiated per backend by `sql_store!`; a difference between the two would show up in the
//! conformance suite, which runs on both.

use async_trait::async_trait;
use latchkey_core::client::{Client, ClientKind, Lifetimes, Permission, RedirectUri};
use latchkey_core::password::django_iterations;
use latchkey_core::secret::TokenHash;
use latchkey_core::store::{
    AccessTokenRow, ClientStore, Conflict, Family, KeyState, KeyStore, NewRefresh, NewUserRow,
    PasswordMix, Purged, RefreshRow, Rotation, Store, StoreError, StoredKey, TokenStore, UserStore,
};
use latchkey_core::user::{email_key, LoginKeys, User, UserId};
use sqlx::Row;

use std::sync::Arc;

use crate::batch::{Batcher, WriteBatch};
use crate::codec::{backend, corrupt, join, split};

macro_rules! user_cols {
    () => {
        "id, username, email, name, given_name, family_name, email_verified, disabled, is_staff, \
         is_superuser, password_hash, sub, created_at"
    };
}

macro_rules! client_cols {
    () => {
        "id, name, owner_id, secret_hash, grant_type, redirect_uris, scopes, filters, restricted, \
         skip_authorization, jwt_lifetime, opaque_lifetime, refresh_lifetime, created_at, permissions"
    };
}

/// Which unique constraint a violation names, from PostgreSQL's constraint name or SQLite's message.
fn conflict(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            let what = db.constraint().unwrap_or(db.message());
            let found = if what.contains("username") {
                Some(Conflict::Username)
            } else if what.contains("email") {
                Some(Conflict::Email)
            } else if what.contains("owner") {
                Some(Conflict::ClientName)
            } else if what.contains("clients") {
                Some(Conflict::ClientId)
            } else if what.contains("signing_keys") {
                Some(Conflict::CurrentKey)
            } else {
                None
            };
            if let Some(c) = found {
                return StoreError::Conflict(c);
            }
        }
    }
    backend(e)
}

/// A client's permissions as stored: space-separated, like scopes.
fn permissions_column(c: &Client) -> String {
    let names: Vec<String> = c
        .permissions()
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect();
    join(&names)
}

fn hash_of(bytes: &[u8]) -> Result<TokenHash, StoreError> {
    TokenHash::from_bytes(bytes).ok_or_else(|| corrupt("a stored hash is not 32 bytes"))
}

/// Whose turn it is to write, on a backend that lets one writer at a time: waiting here, in order,
/// is cheaper and fairer than waiting in SQLite's busy handler, which sleeps 1, 2, 5, 10… ms
/// between tries (BENCHMARKS.md: p99 23 ms for inserts, 96 ms for rotations at 32 connections).
/// Other processes (the CLI) still meet the busy handler, which is what it is for.
type WriteTurn = Option<Arc<tokio::sync::Mutex<()>>>;

/// Runs a transaction in its own task, so that a caller that goes away (a client that disconnects
/// mid-request) cannot cancel it halfway: sqlx 0.8.6 returns a connection whose `begin()` was
/// cancelled to the pool still inside a server-side transaction (sqlx issue 4393), and the next
/// borrower's statements would run in it.
pub(crate) async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(work)
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))?
}

async fn turn(writes: &WriteTurn) -> Option<tokio::sync::OwnedMutexGuard<()>> {
    match writes {
        Some(m) => Some(m.clone().lock_owned().await),
        None => None,
    }
}

macro_rules! sql_store {
    ($store:ident, $db:ty, $migrations:literal, $one_writer:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone)]
        pub struct $store {
            pool: sqlx::Pool<$db>,
            writes: WriteTurn,
            access_rows: Arc<Batcher<AccessTokenRow>>,
        }

        impl $store {
            pub fn new(pool: sqlx::Pool<$db>) -> Self {
                let writes: WriteTurn = $one_writer.then(|| Arc::new(tokio::sync::Mutex::new(())));
                let (p, w) = (pool.clone(), writes.clone());
                let write: WriteBatch<AccessTokenRow> = Arc::new(move |rows| {
                    let (pool, writes) = (p.clone(), w.clone());
                    Box::pin(async move {
                        let _turn = turn(&writes).await;
                        Self::insert_access_batch(&pool, &rows).await
                    })
                });
                $store {
                    pool,
                    writes,
                    access_rows: Arc::new(Batcher::new(write)),
                }
            }

            async fn start_family_tx(
                &self,
                f: &Family,
                first: &NewRefresh,
                access: Option<&AccessTokenRow>,
            ) -> Result<(), StoreError> {
                let _turn = turn(&self.writes).await;
                let mut tx = self.pool.begin().await.map_err(backend)?;
                sqlx::query(
                    "INSERT INTO refresh_families (id, client_id, user_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&f.id)
                .bind(&f.client_id)
                .bind(f.user_id.0)
                .bind(f.created_at)
                .bind(f.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                Self::insert_refresh(&mut *tx, first).await?;
                if let Some(a) = access {
                    Self::insert_access(&mut *tx, a).await?;
                }
                tx.commit().await.map_err(backend)
            }

            async fn rotate_refresh_tx(
                &self,
                old: &TokenHash,
                now: i64,
                sealed_successor: &[u8],
                next: &NewRefresh,
                access: Option<&AccessTokenRow>,
            ) -> Result<Rotation, StoreError> {
                let _turn = turn(&self.writes).await;
                let mut tx = self.pool.begin().await.map_err(backend)?;
                // On PostgreSQL the family row first, as a revocation takes it: this no-op UPDATE
                // holds the row lock, so a revocation running now either finished before (and the
                // family is seen revoked, after waiting for its commit) or waits for this rotation
                // to commit (and its own statements then see the new tokens). Without it a
                // rotation could commit a live access token that a concurrent revocation missed.
                // SQLite has one writer at a time: the compare-and-swap below, this transaction's
                // first write, takes the database lock before its family check reads anything, so
                // the extra statement (a worker hand-off per rotation) buys nothing there.
                if !$one_writer {
                    let live = sqlx::query(
                        "UPDATE refresh_families SET revoked_at = NULL \
                         WHERE id = $1 AND revoked_at IS NULL",
                    )
                    .bind(&next.family_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?
                    .rows_affected()
                        == 1;
                    if !live {
                        tx.rollback().await.map_err(backend)?;
                        return Ok(Rotation::Lost);
                    }
                }
                // The compare-and-swap: only one caller finds the token unrotated.
                let won = sqlx::query(
                    "UPDATE refresh_tokens SET rotated_at = $2, successor = $3 \
                     WHERE hash = $1 AND rotated_at IS NULL AND EXISTS (SELECT 1 FROM \
                     refresh_families f WHERE f.id = refresh_tokens.family_id \
                     AND f.revoked_at IS NULL)",
                )
                .bind(old.as_bytes())
                .bind(now)
                .bind(sealed_successor)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected()
                    == 1;
                if !won {
                    tx.rollback().await.map_err(backend)?;
                    return Ok(Rotation::Lost);
                }
                // Only the newest rotated token keeps a sealed successor: the older ones would lead
                // a dump, step by step, from a dead token to this one's successor.
                sqlx::query(
                    "UPDATE refresh_tokens SET successor = NULL \
                     WHERE family_id = $1 AND hash <> $2 AND successor IS NOT NULL",
                )
                .bind(&next.family_id)
                .bind(old.as_bytes())
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                Self::insert_refresh(&mut *tx, next).await?;
                if let Some(a) = access {
                    Self::insert_access(&mut *tx, a).await?;
                }
                tx.commit().await.map_err(backend)?;
                Ok(Rotation::Rotated)
            }

            async fn revoke_family_tx(&self, family_id: &str, now: i64) -> Result<(), StoreError> {
                let _turn = turn(&self.writes).await;
                let mut tx = self.pool.begin().await.map_err(backend)?;
                sqlx::query(
                    "UPDATE refresh_families SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(family_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                sqlx::query("UPDATE access_tokens SET revoked = TRUE WHERE family_id = $1")
                    .bind(family_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                // JWTs cannot be changed once issued: their jtis join the revocation list.
                sqlx::query(
                    "INSERT INTO revoked_jtis (jti, expires_at) SELECT access_jti, access_expires_at \
                     FROM refresh_tokens WHERE family_id = $1 AND access_expires_at > $2 \
                     ON CONFLICT (jti) DO NOTHING",
                )
                .bind(family_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                tx.commit().await.map_err(backend)
            }

            /// One statement for the whole batch; if it fails, each row on its own, so that one
            /// bad row fails only its own request.
            async fn insert_access_batch(
                pool: &sqlx::Pool<$db>,
                rows: &[AccessTokenRow],
            ) -> Vec<Result<(), StoreError>> {
                if rows.len() > 1 {
                    let mut insert = Self::access_insert(rows);
                    if insert.build().execute(pool).await.is_ok() {
                        return rows.iter().map(|_| Ok(())).collect();
                    }
                }
                let mut results = Vec::with_capacity(rows.len());
                for a in rows {
                    results.push(Self::insert_access(pool, a).await);
                }
                results
            }

            pub fn pool(&self) -> &sqlx::Pool<$db> {
                &self.pool
            }

            /// Applies the migrations this database lacks; returns them, oldest first.
            pub async fn migrate(&self) -> Result<Vec<String>, sqlx::migrate::MigrateError> {
                use sqlx::migrate::Migrate as _;
                let migrator = sqlx::migrate!($migrations);
                let before: Vec<i64> = {
                    let mut conn = self.pool.acquire().await?;
                    conn.ensure_migrations_table().await?;
                    conn.list_applied_migrations().await?.iter().map(|m| m.version).collect()
                };
                migrator.run(&self.pool).await?;
                self.fill_email_keys().await.map_err(sqlx::migrate::MigrateError::Execute)?;
                Ok(migrator
                    .iter()
                    .filter(|m| !m.migration_type.is_down_migration() && !before.contains(&m.version))
                    .map(|m| format!("{:04} {}", m.version, m.description))
                    .collect())
            }

            /// Gives rows from before migration 0005 their email key, which only Rust computes.
            /// Two old rows whose addresses the key makes one (`JOSÉ@x` and `josé@x`, which
            /// SQLite's ASCII-only `lower()` let in) cannot both have it: the later one keeps no
            /// key, so it signs in by username only, and every start says so until an operator
            /// changes one of the addresses.
            async fn fill_email_keys(&self) -> Result<(), sqlx::Error> {
                let rows: Vec<(i64, String)> =
                    sqlx::query_as("SELECT id, email FROM users WHERE email_key IS NULL ORDER BY id")
                        .fetch_all(&self.pool)
                        .await?;
                for (id, email) in rows {
                    let done = sqlx::query(
                        "UPDATE users SET email_key = $2 WHERE id = $1 AND email_key IS NULL",
                    )
                    .bind(id)
                    .bind(email_key(&email))
                    .execute(&self.pool)
                    .await;
                    match done {
                        Ok(_) => {}
                        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                            tracing::warn!(
                                user_id = id,
                                "another user has the same email but for case or composition: \
                                 this one can sign in by username only until one of the two \
                                 addresses is changed"
                            );
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }

            pub(crate) fn user(r: &<$db as sqlx::Database>::Row) -> Result<User, sqlx::Error> {
                Ok(User {
                    id: UserId(r.try_get("id")?),
                    username: r.try_get("username")?,
                    email: r.try_get("email")?,
                    name: r.try_get("name")?,
                    given_name: r.try_get("given_name")?,
                    family_name: r.try_get("family_name")?,
                    email_verified: r.try_get("email_verified")?,
                    disabled: r.try_get("disabled")?,
                    is_staff: r.try_get("is_staff")?,
                    is_superuser: r.try_get("is_superuser")?,
                    password_hash: r.try_get("password_hash")?,
                    sub: r.try_get("sub")?,
                    created_at: r.try_get("created_at")?,
                })
            }

            fn client(r: &<$db as sqlx::Database>::Row) -> Result<Client, StoreError> {
                let secret: Option<Vec<u8>> = r.try_get("secret_hash").map_err(backend)?;
                let permissions = split(&r.try_get::<String, _>("permissions").map_err(backend)?)
                    .iter()
                    .map(|p| p.parse::<Permission>().map_err(corrupt))
                    .collect::<Result<_, _>>()?;
                let kind = match secret {
                    Some(h) => ClientKind::Confidential {
                        secret_hash: hash_of(&h)?,
                        permissions,
                    },
                    None if permissions.is_empty() => ClientKind::Public,
                    None => return Err(corrupt("a public client holds permissions")),
                };
                let grant: String = r.try_get("grant_type").map_err(backend)?;
                let uris: String = r.try_get("redirect_uris").map_err(backend)?;
                let redirect_uris = split(&uris)
                    .iter()
                    .map(|u| RedirectUri::try_from(u.as_str()).map_err(corrupt))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Client {
                    id: r.try_get("id").map_err(backend)?,
                    name: r.try_get("name").map_err(backend)?,
                    owner: UserId(r.try_get("owner_id").map_err(backend)?),
                    kind,
                    grant_type: grant.parse().map_err(corrupt)?,
                    redirect_uris,
                    scopes: split(&r.try_get::<String, _>("scopes").map_err(backend)?),
                    filters: split(&r.try_get::<String, _>("filters").map_err(backend)?),
                    restricted: r.try_get("restricted").map_err(backend)?,
                    skip_authorization: r.try_get("skip_authorization").map_err(backend)?,
                    lifetimes: Lifetimes {
                        jwt: r.try_get("jwt_lifetime").map_err(backend)?,
                        opaque: r.try_get("opaque_lifetime").map_err(backend)?,
                        refresh: r.try_get("refresh_lifetime").map_err(backend)?,
                    },
                    created_at: r.try_get("created_at").map_err(backend)?,
                })
            }

            async fn fetch_clients<'q>(
                &self,
                query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
            ) -> Result<Vec<Client>, StoreError> {
                let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
                rows.iter().map(Self::client).collect()
            }

            /// The `INSERT` of these access-token rows, one statement for them all.
            fn access_insert(rows: &[AccessTokenRow]) -> sqlx::QueryBuilder<'_, $db> {
                let mut insert = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO access_tokens (hash, jti, client_id, user_id, scopes, issued_at, \
                     expires_at, family_id, revoked) ",
                );
                insert.push_values(rows, |mut b, a| {
                    b.push_bind(a.hash.as_bytes())
                        .push_bind(a.jti.as_str())
                        .push_bind(a.client_id.as_str())
                        .push_bind(a.user_id.0)
                        .push_bind(join(&a.scopes))
                        .push_bind(a.issued_at)
                        .push_bind(a.expires_at)
                        .push_bind(a.family_id.as_deref())
                        .push_bind(a.revoked);
                });
                insert
            }

            async fn insert_access(
                ex: impl sqlx::Executor<'_, Database = $db>,
                a: &AccessTokenRow,
            ) -> Result<(), StoreError> {
                Self::access_insert(std::slice::from_ref(a))
                    .build()
                    .execute(ex)
                    .await
                    .map_err(backend)?;
                Ok(())
            }

            async fn insert_refresh(
                ex: impl sqlx::Executor<'_, Database = $db>,
                n: &NewRefresh,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO refresh_tokens (hash, family_id, scopes, issued_at, expires_at, \
                     access_jti, access_expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(n.hash.as_bytes())
                .bind(&n.family_id)
                .bind(join(&n.scopes))
                .bind(n.issued_at)
                .bind(n.expires_at)
                .bind(&n.access_jti)
                .bind(n.access_expires_at)
                .execute(ex)
                .await
                .map_err(backend)?;
                Ok(())
            }

            /// Runs a bounded DELETE (or UPDATE) of the rows older than `now`, at most `batch`.
            async fn delete_batch(&self, sql: &str, now: i64, batch: u32) -> Result<u64, StoreError> {
                Ok(sqlx::query(sql)
                    .bind(now)
                    .bind(i64::from(batch))
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?
                    .rows_affected())
            }
        }

        #[async_trait]
        impl UserStore for $store {
            async fn insert_user(&self, u: &NewUserRow) -> Result<User, StoreError> {
                let row = sqlx::query(concat!(
                    "INSERT INTO users (username, email, name, email_verified, is_staff, \
                     is_superuser, password_hash, sub, created_at, email_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ",
                    user_cols!()
                ))
                .bind(&u.username)
                .bind(&u.email)
                .bind(&u.name)
                .bind(u.email_verified)
                .bind(u.is_staff)
                .bind(u.is_superuser)
                .bind(&u.password_hash)
                .bind(&u.sub)
                .bind(u.created_at)
                .bind(email_key(&u.email));
                if !(u.is_staff || u.is_superuser) {
                    let row = row.fetch_one(&self.pool).await.map_err(conflict)?;
                    return Self::user(&row).map_err(backend);
                }
                // openedx-authz's staff bypass decides too: a new staff account moves the authz
                // version in the same transaction, so every node and every guard's cache sees it
                // as a policy change. Not at version 0, which means "never written: seed the
                // default policy".
                let mut tx = self.pool.begin().await.map_err(backend)?;
                let row = row.fetch_one(&mut *tx).await.map_err(conflict)?;
                sqlx::query("UPDATE authz_state SET version = version + 1 WHERE id = 1 AND version > 0")
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Self::user(&row).map_err(backend)
            }

            async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
                let row = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users WHERE id = $1"))
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                row.as_ref().map(Self::user).transpose().map_err(backend)
            }

            async fn user_by_login(&self, login: &str) -> Result<Option<User>, StoreError> {
                let keys = LoginKeys::new(login);
                // One statement for the three ways in, so a sign-in is one round trip.
                let row = sqlx::query(concat!(
                    "SELECT ",
                    user_cols!(),
                    " FROM users WHERE username = $1 OR username = $2 OR email_key = $3 \
                     ORDER BY CASE WHEN username = $1 THEN 0 WHEN username = $2 THEN 1 ELSE 2 END \
                     LIMIT 1"
                ))
                .bind(keys.username)
                // NULL when NFKC changes nothing: `username = NULL` matches no row.
                .bind(keys.normalized_username.as_deref())
                .bind(&keys.email_key)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
                row.as_ref().map(Self::user).transpose().map_err(backend)
            }

            async fn set_user_disabled(&self, username: &str, disabled: bool) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE users SET disabled = $2 WHERE username = $1")
                    .bind(username)
                    .bind(disabled)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected() == 1)
            }

            async fn replace_password_hash(
                &self,
                id: UserId,
                old: &str,
                new: &str,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
                )
                .bind(id.0)
                .bind(old)
                .bind(new)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
                Ok(done.rows_affected() == 1)
            }

            async fn list_users(&self) -> Result<Vec<User>, StoreError> {
                let rows = sqlx::query(concat!("SELECT ", user_cols!(), " FROM users ORDER BY id"))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                rows.iter().map(Self::user).collect::<Result<_, _>>().map_err(backend)
            }

            async fn password_mix(&self) -> Result<PasswordMix, StoreError> {
                let counts = sqlx::query(
                    "SELECT COUNT(password_hash), COALESCE(SUM(CASE WHEN password_hash LIKE \
                     'pbkdf2_sha256$%' THEN 1 ELSE 0 END), 0) FROM users",
                )
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
                let sample: Option<String> = sqlx::query_scalar(
                    "SELECT password_hash FROM users WHERE password_hash LIKE 'pbkdf2_sha256$%' \
                     ORDER BY id DESC LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
                let count = |i: usize| -> Result<u64, StoreError> {
                    let n: i64 = counts.try_get(i).map_err(backend)?;
                    Ok(u64::try_from(n).unwrap_or(0))
                };
                Ok(PasswordMix {
                    with_password: count(0)?,
                    django: count(1)?,
                    django_iterations: sample.as_deref().and_then(django_iterations),
                })
            }
        }

        #[async_trait]
        impl ClientStore for $store {
            async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
                let secret = match &c.kind {
                    ClientKind::Public => None,
                    ClientKind::Confidential { secret_hash, .. } => Some(secret_hash.as_bytes().to_vec()),
                };
                let uris: Vec<String> = c.redirect_uris.iter().map(|u| u.as_str().to_owned()).collect();
                sqlx::query(concat!(
                    "INSERT INTO clients (",
                    client_cols!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                ))
                .bind(&c.id)
                .bind(&c.name)
                .bind(c.owner.0)
                .bind(secret)
                .bind(c.grant_type.as_str())
                .bind(join(&uris))
                .bind(join(&c.scopes))
                .bind(join(&c.filters))
                .bind(c.restricted)
                .bind(c.skip_authorization)
                .bind(c.lifetimes.jwt)
                .bind(c.lifetimes.opaque)
                .bind(c.lifetimes.refresh)
                .bind(c.created_at)
                .bind(permissions_column(c))
                .execute(&self.pool)
                .await
                .map_err(conflict)?;
                Ok(())
            }

            async fn update_client(&self, c: &Client) -> Result<(), StoreError> {
                let secret = match &c.kind {
                    ClientKind::Public => None,
                    ClientKind::Confidential { secret_hash, .. } => Some(secret_hash.as_bytes().to_vec()),
                };
                let uris: Vec<String> = c.redirect_uris.iter().map(|u| u.as_str().to_owned()).collect();
                let done = sqlx::query(
                    "UPDATE clients SET name = $2, owner_id = $3, secret_hash = $4, grant_type = $5, \
                     redirect_uris = $6, scopes = $7, filters = $8, restricted = $9, \
                     skip_authorization = $10, jwt_lifetime = $11, opaque_lifetime = $12, \
                     refresh_lifetime = $13, permissions = $14 WHERE id = $1",
                )
                .bind(&c.id)
                .bind(&c.name)
                .bind(c.owner.0)
                .bind(secret)
                .bind(c.grant_type.as_str())
                .bind(join(&uris))
                .bind(join(&c.scopes))
                .bind(join(&c.filters))
                .bind(c.restricted)
                .bind(c.skip_authorization)
                .bind(c.lifetimes.jwt)
                .bind(c.lifetimes.opaque)
                .bind(c.lifetimes.refresh)
                .bind(permissions_column(c))
                .execute(&self.pool)
                .await
                .map_err(conflict)?;
                if done.rows_affected() == 1 {
                    Ok(())
                } else {
                    Err(corrupt(format!("client {} vanished during update", c.id)))
                }
            }

            async fn client_by_id(&self, id: &str) -> Result<Option<Client>, StoreError> {
                let sql = concat!("SELECT ", client_cols!(), " FROM clients WHERE id = $1");
                Ok(self.fetch_clients(sqlx::query(sql).bind(id)).await?.pop())
            }

            async fn client_by_name(&self, owner: UserId, name: &str) -> Result<Option<Client>, StoreError> {
                let sql = concat!("SELECT ", client_cols!(), " FROM clients WHERE name = $1 AND owner_id = $2");
                Ok(self.fetch_clients(sqlx::query(sql).bind(name).bind(owner.0)).await?.pop())
            }

            async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
                let sql = concat!("SELECT ", client_cols!(), " FROM clients ORDER BY created_at, id");
                self.fetch_clients(sqlx::query(sql)).await
            }

            async fn max_client_jwt_lifetime(&self) -> Result<Option<i64>, StoreError> {
                sqlx::query_scalar("SELECT MAX(jwt_lifetime) FROM clients")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(backend)
            }
        }

        #[async_trait]
        impl KeyStore for $store {
            async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
                let rows = sqlx::query(
                    "SELECT kid, alg, state, sealed_private, created_at, retired_at \
                     FROM signing_keys ORDER BY created_at, kid",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
                rows.iter()
                    .map(|r| {
                        let alg: String = r.try_get("alg").map_err(backend)?;
                        let state: String = r.try_get("state").map_err(backend)?;
                        Ok(StoredKey {
                            kid: r.try_get("kid").map_err(backend)?,
                            alg: alg.parse().map_err(corrupt)?,
                            state: KeyState::parse(&state)
                                .ok_or_else(|| corrupt(format!("unknown key state {state:?}")))?,
                            sealed_private: r.try_get("sealed_private").map_err(backend)?,
                            created_at: r.try_get("created_at").map_err(backend)?,
                            retired_at: r.try_get("retired_at").map_err(backend)?,
                        })
                    })
                    .collect()
            }

            async fn insert_key(&self, k: &StoredKey) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO signing_keys (kid, alg, state, sealed_private, created_at, retired_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&k.kid)
                .bind(k.alg.to_string())
                .bind(k.state.as_str())
                .bind(&k.sealed_private)
                .bind(k.created_at)
                .bind(k.retired_at)
                .execute(&self.pool)
                .await
                .map_err(conflict)?;
                Ok(())
            }

            async fn promote_key(&self, kid: &str, now: i64) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await.map_err(backend)?;
                sqlx::query(
                    "UPDATE signing_keys SET state = 'retired', retired_at = $1 WHERE state = 'current'",
                )
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
                let done = sqlx::query(
                    "UPDATE signing_keys SET state = 'current', retired_at = NULL \
                     WHERE kid = $1 AND state <> 'revoked'",
                )
                .bind(kid)
                .execute(&mut *tx)
                .await
                .map_err(conflict)?;
                if done.rows_affected() != 1 {
                    return Err(corrupt(format!("no signing key {kid} to promote")));
                }
                tx.commit().await.map_err(backend)
            }

            async fn revoke_key(&self, kid: &str, now: i64) -> Result<latchkey_core::store::KeyRevocation, StoreError> {
                use latchkey_core::store::KeyRevocation;
                // A key's state only moves forward (next, current, retired, revoked), so a key
                // seen between the two statements as revocable is revoked on the next turn.
                for _ in 0..3 {
                    let done = sqlx::query(
                        "UPDATE signing_keys SET state = 'revoked', retired_at = $2, \
                         sealed_private = $3 WHERE kid = $1 AND state IN ('next', 'retired')",
                    )
                    .bind(kid)
                    .bind(now)
                    .bind(Vec::<u8>::new())
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                    if done.rows_affected() == 1 {
                        return Ok(KeyRevocation::Revoked);
                    }
                    let state: Option<String> =
                        sqlx::query_scalar("SELECT state FROM signing_keys WHERE kid = $1")
                            .bind(kid)
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(backend)?;
                    let Some(state) = state else {
                        return Ok(KeyRevocation::Unknown);
                    };
                    match KeyState::parse(&state) {
                        Some(KeyState::Revoked) => return Ok(KeyRevocation::AlreadyRevoked),
                        Some(KeyState::Current) => return Ok(KeyRevocation::Current),
                        Some(KeyState::Next | KeyState::Retired) => continue,
                        None => return Err(corrupt(format!("unknown key state {state:?}"))),
                    }
                }
                Err(corrupt(format!("signing key {kid} keeps changing state")))
            }

            async fn delete_keys_retired_before(&self, before: i64) -> Result<u64, StoreError> {
                let done = sqlx::query(
                    "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < $1",
                )
                .bind(before)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
                Ok(done.rows_affected())
            }
        }

        #[async_trait]
        impl TokenStore for $store {
            async fn insert_access_token(&self, row: &AccessTokenRow) -> Result<(), StoreError> {
                self.access_rows.insert(row.clone()).await
            }

            async fn access_token(
                &self,
                hash: &TokenHash,
            ) -> Result<Option<(AccessTokenRow, User)>, StoreError> {
                // One round trip for the token and its user: introspection needs both. The two
                // tables share no column name, so the row decodes as either.
                let row = sqlx::query(concat!(
                    "SELECT a.hash, a.jti, a.client_id, a.user_id, a.scopes, a.issued_at, \
                     a.expires_at, a.family_id, a.revoked, ",
                    user_cols!(),
                    " FROM access_tokens a JOIN users ON users.id = a.user_id WHERE a.hash = $1"
                ))
                .bind(hash.as_bytes())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
                let Some(r) = row else { return Ok(None) };
                let stored: Vec<u8> = r.try_get("hash").map_err(backend)?;
                let user = Self::user(&r).map_err(backend)?;
                let token = AccessTokenRow {
                    hash: hash_of(&stored)?,
                    jti: r.try_get("jti").map_err(backend)?,
                    client_id: r.try_get("client_id").map_err(backend)?,
                    user_id: UserId(r.try_get("user_id").map_err(backend)?),
                    scopes: split(&r.try_get::<String, _>("scopes").map_err(backend)?),
                    issued_at: r.try_get("issued_at").map_err(backend)?,
                    expires_at: r.try_get("expires_at").map_err(backend)?,
                    family_id: r.try_get("family_id").map_err(backend)?,
                    revoked: r.try_get("revoked").map_err(backend)?,
                };
                Ok(Some((token, user)))
            }

            async fn start_family(
                &self,
                f: &Family,
                first: &NewRefresh,
                access: Option<&AccessTokenRow>,
            ) -> Result<(), StoreError> {
                let (this, f, first, access) = (self.clone(), f.clone(), first.clone(), access.cloned());
                detached(async move { this.start_family_tx(&f, &first, access.as_ref()).await }).await
            }

            async fn refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshRow>, StoreError> {
                let row = sqlx::query(
                    "SELECT r.scopes, r.issued_at, r.expires_at, r.rotated_at, r.successor, \
                     f.id AS f_id, f.client_id AS f_client_id, f.user_id AS f_user_id, \
                     f.created_at AS f_created_at, f.expires_at AS f_expires_at, \
                     f.revoked_at AS f_revoked_at \
                     FROM refresh_tokens r JOIN refresh_families f ON f.id = r.family_id \
                     WHERE r.hash = $1",
                )
                .bind(hash.as_bytes())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
                let Some(r) = row else { return Ok(None) };
                let revoked_at: Option<i64> = r.try_get("f_revoked_at").map_err(backend)?;
                Ok(Some(RefreshRow {
                    hash: *hash,
                    family: Family {
                        id: r.try_get("f_id").map_err(backend)?,
                        client_id: r.try_get("f_client_id").map_err(backend)?,
                        user_id: UserId(r.try_get("f_user_id").map_err(backend)?),
                        created_at: r.try_get("f_created_at").map_err(backend)?,
                        expires_at: r.try_get("f_expires_at").map_err(backend)?,
                    },
                    family_revoked: revoked_at.is_some(),
                    scopes: split(&r.try_get::<String, _>("scopes").map_err(backend)?),
                    issued_at: r.try_get("issued_at").map_err(backend)?,
                    expires_at: r.try_get("expires_at").map_err(backend)?,
                    rotated_at: r.try_get("rotated_at").map_err(backend)?,
                    successor: r.try_get("successor").map_err(backend)?,
                }))
            }

            async fn rotate_refresh(
                &self,
                old: &TokenHash,
                now: i64,
                sealed_successor: &[u8],
                next: &NewRefresh,
                access: Option<&AccessTokenRow>,
            ) -> Result<Rotation, StoreError> {
                let (this, old, sealed, next, access) =
                    (self.clone(), *old, sealed_successor.to_vec(), next.clone(), access.cloned());
                detached(async move {
                    this.rotate_refresh_tx(&old, now, &sealed, &next, access.as_ref()).await
                })
                .await
            }

            async fn revoke_family(&self, family_id: &str, now: i64) -> Result<(), StoreError> {
                let (this, family_id) = (self.clone(), family_id.to_owned());
                detached(async move { this.revoke_family_tx(&family_id, now).await }).await
            }

            async fn revoke_access_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE access_tokens SET revoked = TRUE WHERE hash = $1")
                    .bind(hash.as_bytes())
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected() == 1)
            }

            async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO revoked_jtis (jti, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (jti) DO NOTHING",
                )
                .bind(jti)
                .bind(expires_at)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
                Ok(())
            }

            async fn is_jti_revoked(&self, jti: &str) -> Result<bool, StoreError> {
                let row = sqlx::query("SELECT 1 FROM revoked_jtis WHERE jti = $1")
                    .bind(jti)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(row.is_some())
            }

            async fn clear_successors(&self, rotated_before: i64, batch: u32) -> Result<u64, StoreError> {
                self.delete_batch(
                    "UPDATE refresh_tokens SET successor = NULL WHERE hash IN (SELECT hash FROM \
                     refresh_tokens WHERE successor IS NOT NULL AND rotated_at < $1 LIMIT $2)",
                    rotated_before,
                    batch,
                )
                .await
            }

            async fn purge_expired(&self, now: i64, batch: u32) -> Result<Purged, StoreError> {
                Ok(Purged {
                    access_tokens: self
                        .delete_batch(
                            "DELETE FROM access_tokens WHERE hash IN (SELECT hash FROM \
                             access_tokens WHERE expires_at <= $1 LIMIT $2)",
                            now,
                            batch,
                        )
                        .await?,
                    refresh_tokens: self
                        .delete_batch(
                            "DELETE FROM refresh_tokens WHERE hash IN (SELECT hash FROM \
                             refresh_tokens WHERE expires_at <= $1 LIMIT $2)",
                            now,
                            batch,
                        )
                        .await?,
                    // A revoked family's tokens already answer invalid_grant; its JWTs are in
                    // revoked_jtis and its opaque tokens are marked, so the family itself can go.
                    families: self
                        .delete_batch(
                            "DELETE FROM refresh_families WHERE id IN (SELECT f.id FROM \
                             refresh_families f WHERE f.revoked_at IS NOT NULL \
                             OR f.expires_at <= $1 OR NOT EXISTS (SELECT 1 FROM refresh_tokens r \
                             WHERE r.family_id = f.id) LIMIT $2)",
                            now,
                            batch,
                        )
                        .await?,
                    revoked_jtis: self
                        .delete_batch(
                            "DELETE FROM revoked_jtis WHERE jti IN (SELECT jti FROM revoked_jtis \
                             WHERE expires_at <= $1 LIMIT $2)",
                            now,
                            batch,
                        )
                        .await?,
                })
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(backend)?;
                Ok(())
            }
        }
    };
}

sql_store!(
    SqliteStore,
    sqlx::Sqlite,
    "./migrations/sqlite",
    true,
    "The embedded store: one SQLite file in WAL mode."
);
sql_store!(
    PgStore,
    sqlx::Postgres,
    "./migrations/postgres",
    false,
    "The scale-out store: PostgreSQL, shared by any number of nodes."
);
