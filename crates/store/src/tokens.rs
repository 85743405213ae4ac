//! Access tokens, refresh tokens and their families, revoked JWT ids: [`TokenStore`].

use std::sync::Arc;

use async_trait::async_trait;
use latchkey_core::notice::Change;
use latchkey_core::secret::TokenHash;
use latchkey_core::store::{
    AccessTokenRow, Family, NewRefresh, Purged, RefreshRow, Rotation, StoreError, TokenStore,
};
use latchkey_core::user::{User, UserId};
use sqlx::Row;

use super::revocations::next_number;
use super::users::{user, user_columns};
use super::{Conn, Db, ACCESS_ROWS, ONE_WRITER};
use crate::batch::all_unavailable;
use crate::codec::{hash_of, join, split};
use crate::errors::backend;
use crate::kept::Kept;
use crate::lookup::{by_hash, ByHash};
use crate::store::{NewFamily, SqlStore};

/// The `INSERT` of these access-token rows, one statement for them all, pushed onto `insert`.
pub(super) fn access_insert<'a>(
    insert: &mut sqlx::QueryBuilder<'a, Db>,
    rows: impl IntoIterator<Item = &'a AccessTokenRow>,
) {
    insert.push(
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
}

async fn insert_access(
    ex: impl sqlx::Executor<'_, Database = Db>,
    a: &AccessTokenRow,
) -> Result<(), StoreError> {
    let mut insert = statements();
    access_insert(&mut insert, [a]);
    insert.build().execute(ex).await.map_err(backend)?;
    Ok(())
}

/// Writes one batch of the group-commit writer (`batch.rs`), which holds the write turn: one
/// statement for the whole batch, on the writer's own connection (`kept.rs` says why: with the
/// load spread over several nodes each one's batches are smaller, so what a batch costs besides
/// its statement counts for more per token); if it fails, each row on its own, through the pool,
/// so that one bad row fails only its own request.
pub(super) async fn insert_access_batch(
    pool: &sqlx::Pool<Db>,
    own: &Kept<Db>,
    rows: Arc<Vec<AccessTokenRow>>,
) -> Vec<Result<(), StoreError>> {
    let failed = own
        .run(|conn| {
            let rows = rows.clone();
            Box::pin(async move {
                match ACCESS_ROWS {
                    Some(statement) => statement(&rows).execute(&mut *conn).await,
                    None => {
                        let mut insert = statements();
                        access_insert(&mut insert, rows.iter());
                        insert.build().execute(&mut *conn).await
                    }
                }
                .map(drop)
            })
        })
        .await
        .err();
    let Some(e) = failed else {
        return rows.iter().map(|_| Ok(())).collect();
    };
    if let Some(all) = all_unavailable(rows.len(), &e) {
        return all;
    }
    if rows.len() == 1 {
        return vec![Err(e)];
    }
    let mut results = Vec::with_capacity(rows.len());
    for a in rows.iter() {
        results.push(insert_access(pool, a).await);
    }
    results
}

/// New families, each with its first refresh token and (opaque only) its access token: a password
/// grant's whole write. One statement per table, however many.
pub(super) async fn insert_families(
    conn: &mut Conn,
    started: &[&NewFamily],
) -> Result<(), StoreError> {
    for table in FamilyTable::ALL {
        let mut insert = statements();
        if table.push_insert(&mut insert, started) {
            insert.build().execute(&mut *conn).await.map_err(backend)?;
        }
    }
    Ok(())
}

/// A table that new families write to, in the order their rows must be inserted.
#[derive(Clone, Copy)]
pub(super) enum FamilyTable {
    Families,
    RefreshTokens,
    AccessTokens,
}

impl FamilyTable {
    pub(super) const ALL: [FamilyTable; 3] = [
        FamilyTable::Families,
        FamilyTable::RefreshTokens,
        FamilyTable::AccessTokens,
    ];

    /// Pushes onto `insert` the one `INSERT` of `started`'s rows in this table; false, pushing
    /// nothing, when they have none here (no family, or no opaque access token).
    pub(super) fn push_insert<'a>(
        self,
        insert: &mut sqlx::QueryBuilder<'a, Db>,
        started: &[&'a NewFamily],
    ) -> bool {
        if started.is_empty() {
            return false;
        }
        match self {
            FamilyTable::Families => family_insert(insert, started.iter().map(|s| &s.family)),
            FamilyTable::RefreshTokens => refresh_insert(insert, started.iter().map(|s| &s.first)),
            FamilyTable::AccessTokens => {
                let mut access = started.iter().filter_map(|s| s.access.as_ref()).peekable();
                if access.peek().is_none() {
                    return false;
                }
                access_insert(insert, access)
            }
        }
        true
    }
}

/// The `INSERT` of these families, one statement for them all, pushed onto `insert`.
pub(super) fn family_insert<'a>(
    insert: &mut sqlx::QueryBuilder<'a, Db>,
    rows: impl IntoIterator<Item = &'a Family>,
) {
    insert.push("INSERT INTO refresh_families (id, client_id, user_id, created_at, expires_at) ");
    insert.push_values(rows, |mut b, f| {
        b.push_bind(f.id.as_str())
            .push_bind(f.client_id.as_str())
            .push_bind(f.user_id.0)
            .push_bind(f.created_at)
            .push_bind(f.expires_at);
    });
}

/// The `INSERT` of these refresh-token rows, one statement for them all, pushed onto `insert`.
pub(super) fn refresh_insert<'a>(
    insert: &mut sqlx::QueryBuilder<'a, Db>,
    rows: impl IntoIterator<Item = &'a NewRefresh>,
) {
    insert.push(
        "INSERT INTO refresh_tokens (hash, family_id, scopes, issued_at, expires_at, \
         access_jti, access_expires_at) ",
    );
    insert.push_values(rows, |mut b, n| {
        b.push_bind(n.hash.as_bytes())
            .push_bind(n.family_id.as_str())
            .push_bind(join(&n.scopes))
            .push_bind(n.issued_at)
            .push_bind(n.expires_at)
            .push_bind(n.access_jti.as_str())
            .push_bind(n.access_expires_at);
    });
}

/// A builder that statements are pushed onto.
pub(super) fn statements<'a>() -> sqlx::QueryBuilder<'a, Db> {
    sqlx::QueryBuilder::new("")
}

/// The compare-and-swap of a rotation, with what it writes when it wins.
async fn rotate(
    conn: &mut Conn,
    old: &TokenHash,
    now: i64,
    sealed_successor: &[u8],
    next: &NewRefresh,
    access: Option<&AccessTokenRow>,
) -> Result<Rotation, StoreError> {
    // On PostgreSQL the family row first, as a revocation takes it: this no-op UPDATE holds the
    // row lock, so a revocation running now either finished before (and the family is seen
    // revoked, after waiting for its commit) or waits for this rotation to commit (and its own
    // statements then see the new tokens). Without it a rotation could commit a live access token
    // that a concurrent revocation missed. SQLite has one writer at a time: the compare-and-swap
    // below, this transaction's first write, takes the database lock before its family check
    // reads anything, so the extra statement (a worker hand-off per rotation) buys nothing there.
    if !ONE_WRITER {
        let live = sqlx::query(
            "UPDATE refresh_families SET revoked_at = NULL WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(&next.family_id)
        .execute(&mut *conn)
        .await
        .map_err(backend)?
        .rows_affected()
            == 1;
        if !live {
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
    .execute(&mut *conn)
    .await
    .map_err(backend)?
    .rows_affected()
        == 1;
    if !won {
        return Ok(Rotation::Lost);
    }
    // Only the newest rotated token keeps a sealed successor: the older ones would lead a dump,
    // step by step, from a dead token to this one's successor.
    sqlx::query(
        "UPDATE refresh_tokens SET successor = NULL \
         WHERE family_id = $1 AND hash <> $2 AND successor IS NOT NULL",
    )
    .bind(&next.family_id)
    .bind(old.as_bytes())
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    let mut insert = statements();
    refresh_insert(&mut insert, [next]);
    insert.build().execute(&mut *conn).await.map_err(backend)?;
    if let Some(a) = access {
        insert_access(&mut *conn, a).await?;
    }
    Ok(Rotation::Rotated)
}

impl SqlStore<Db> {
    /// Runs a bounded DELETE (or UPDATE) of the rows older than `now`, at most `batch`: `sql`
    /// binds `now` as `$1` and `batch` as `$2`.
    pub(super) async fn delete_batch(
        &self,
        sql: &'static str,
        now: i64,
        batch: u32,
    ) -> Result<u64, StoreError> {
        self.write(move |tx| {
            Box::pin(async move {
                Ok(sqlx::query(sql)
                    .bind(now)
                    .bind(i64::from(batch))
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?
                    .rows_affected())
            })
        })
        .await
    }
}

#[async_trait]
impl TokenStore for SqlStore<Db> {
    async fn insert_access_token(&self, row: &AccessTokenRow) -> Result<(), StoreError> {
        self.access_rows.submit(row.clone()).await
    }

    async fn access_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(AccessTokenRow, User)>, StoreError> {
        // One round trip for the token and its user: introspection needs both. The two tables
        // share no column name, so the row decodes as either.
        static TOKEN_AND_USER: ByHash = by_hash!(
            select concat!(
                "a.hash, a.jti, a.client_id, a.user_id, a.scopes, a.issued_at, a.expires_at, \
                 a.family_id, a.revoked, ",
                user_columns!()
            ),
            from "access_tokens a JOIN users ON users.id = a.user_id",
            key "a.hash"
        );
        let row = self.row_by_hash(&TOKEN_AND_USER, hash).await?;
        let Some(r) = row else { return Ok(None) };
        let stored: Vec<u8> = r.try_get("hash").map_err(backend)?;
        let holder = user(&r).map_err(backend)?;
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
        Ok(Some((token, holder)))
    }

    async fn start_family(
        &self,
        f: &Family,
        first: &NewRefresh,
        access: Option<&AccessTokenRow>,
    ) -> Result<(), StoreError> {
        let started = NewFamily {
            family: f.clone(),
            first: first.clone(),
            access: access.cloned(),
        };
        self.write(move |tx| Box::pin(async move { insert_families(tx, &[&started]).await }))
            .await
    }

    async fn refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshRow>, StoreError> {
        static TOKEN_AND_FAMILY: ByHash = by_hash!(
            select "r.scopes, r.issued_at, r.expires_at, r.rotated_at, r.successor, \
                f.id AS f_id, f.client_id AS f_client_id, f.user_id AS f_user_id, \
                f.created_at AS f_created_at, f.expires_at AS f_expires_at, \
                f.revoked_at AS f_revoked_at",
            from "refresh_tokens r JOIN refresh_families f ON f.id = r.family_id",
            key "r.hash"
        );
        let row = self.row_by_hash(&TOKEN_AND_FAMILY, hash).await?;
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
        let (old, sealed, next, access) = (
            *old,
            sealed_successor.to_vec(),
            next.clone(),
            access.cloned(),
        );
        self.write(move |tx| {
            Box::pin(async move { rotate(tx, &old, now, &sealed, &next, access.as_ref()).await })
        })
        .await
    }

    async fn revoke_family(&self, family_id: &str, now: i64) -> Result<(), StoreError> {
        let family_id = family_id.to_owned();
        self.announcing(move |tx| {
            Box::pin(async move {
                let number = next_number(tx).await?;
                sqlx::query(
                    "UPDATE refresh_families SET revoked_at = $2 \
                     WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(&family_id)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                sqlx::query("UPDATE access_tokens SET revoked = TRUE WHERE family_id = $1")
                    .bind(&family_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                // JWTs cannot be changed once issued: their jtis join the revocation list.
                sqlx::query(
                    "INSERT INTO revoked_jtis (jti, expires_at, seq) SELECT access_jti, \
                     access_expires_at, $3 FROM refresh_tokens WHERE family_id = $1 \
                     AND access_expires_at > $2 ON CONFLICT (jti) DO NOTHING",
                )
                .bind(&family_id)
                .bind(now)
                .bind(number)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                Ok(((), Some(Change::Revocations)))
            })
        })
        .await
    }

    async fn revoke_access_token(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let hash = *hash;
        self.announcing(move |tx| {
            Box::pin(async move {
                let done = sqlx::query("UPDATE access_tokens SET revoked = TRUE WHERE hash = $1")
                    .bind(hash.as_bytes())
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                let revoked = done.rows_affected() == 1;
                Ok((revoked, revoked.then_some(Change::Revocations)))
            })
        })
        .await
    }

    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        let jti = jti.to_owned();
        self.announcing(move |tx| {
            Box::pin(async move {
                let number = next_number(tx).await?;
                sqlx::query(
                    "INSERT INTO revoked_jtis (jti, expires_at, seq) VALUES ($1, $2, $3) \
                     ON CONFLICT (jti) DO NOTHING",
                )
                .bind(&jti)
                .bind(expires_at)
                .bind(number)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                Ok(((), Some(Change::Revocations)))
            })
        })
        .await
    }

    async fn is_jwt_revoked(&self, jti: &str, sub: &str, iat: i64) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 FROM revoked_jtis WHERE jti = $1 UNION ALL \
             SELECT 1 FROM user_not_before WHERE sub = $2 AND not_before > $3 LIMIT 1",
        )
        .bind(jti)
        .bind(sub)
        .bind(iat)
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
