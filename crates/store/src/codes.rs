//! Authorization codes (kept only as keyed hashes) and remembered consent:
//! [`AuthorizationStore`]. Taking a code is one conditional UPDATE, so of two exchanges of one
//! code exactly one sees its row change.
//!
//! Redemptions go through a group-commit writer (`batch.rs`) that takes the batch's codes with one
//! `UPDATE … FROM` the batch and inserts the families of the winners together, on a kept connection
//! (`kept.rs`): on PostgreSQL in one statement, on SQLite in one transaction of two calls. A loser
//! stores nothing, whether it lost to an exchange of another batch or of its own. Why:
//! docs/design/authorization-code.md.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use latchkey_core::secret::TokenHash;
use latchkey_core::store::{
    AccessTokenRow, AuthorizationStore, CodeRow, Consent, Family, NewRefresh, StoreError,
};
use latchkey_core::user::{User, UserId};
use sqlx::Row;

use super::tokens::{statements, FamilyTable};
use super::users::{user, user_columns};
use super::{Conn, Db, DbRow, REDEEM_ROWS};
use crate::batch::all_unavailable;
use crate::codec::{hash_of, join, split};
use crate::errors::backend;
use crate::kept::Kept;
use crate::lookup::{by_hash, ByHash};
use crate::store::{NewFamily, Redemption, SqlStore};
use crate::write::WriteTurn;

/// The columns [`code_row`] reads, as a literal for `concat!`.
macro_rules! code_columns {
    () => {
        "hash, client_id, user_id, redirect_uri, scopes, code_challenge, nonce, auth_time, \
         issued_at, expires_at, used_at, family_id"
    };
}

/// Reads the columns of [`code_columns`].
fn code_row(r: &DbRow) -> Result<CodeRow, StoreError> {
    let hash: Vec<u8> = r.try_get("hash").map_err(backend)?;
    Ok(CodeRow {
        hash: hash_of(&hash)?,
        client_id: r.try_get("client_id").map_err(backend)?,
        user_id: UserId(r.try_get("user_id").map_err(backend)?),
        redirect_uri: r.try_get("redirect_uri").map_err(backend)?,
        scopes: split(&r.try_get::<String, _>("scopes").map_err(backend)?),
        code_challenge: r.try_get("code_challenge").map_err(backend)?,
        nonce: r.try_get("nonce").map_err(backend)?,
        auth_time: r.try_get("auth_time").map_err(backend)?,
        issued_at: r.try_get("issued_at").map_err(backend)?,
        expires_at: r.try_get("expires_at").map_err(backend)?,
        used_at: r.try_get("used_at").map_err(backend)?,
        family_id: r.try_get("family_id").map_err(backend)?,
    })
}

fn consent_row(r: &DbRow) -> Result<Consent, sqlx::Error> {
    Ok(Consent {
        user_id: UserId(r.try_get("user_id")?),
        client_id: r.try_get("client_id")?,
        scopes: split(&r.try_get::<String, _>("scopes")?),
        granted_at: r.try_get("granted_at")?,
    })
}

/// Writes one batch of the redemption writer (`batch.rs`), which is a task of its own, on a kept
/// connection: on PostgreSQL one statement ([`REDEEM_ROWS`]), on SQLite one transaction in two
/// calls ([`taken_then_started`]). If it fails, each redemption alone, so that one bad row fails
/// only its own request.
pub(super) async fn redeem_batch(
    kept: &Kept<Db>,
    writes: &WriteTurn,
    batch: Vec<Redemption>,
) -> Vec<Result<bool, StoreError>> {
    let _turn = writes.take().await;
    let batch = Arc::new(batch);
    match redeem(kept, batch.clone()).await {
        Ok(won) => won.into_iter().map(Ok).collect(),
        Err(e) if batch.len() == 1 => vec![Err(e)],
        Err(e) => {
            if let Some(all) = all_unavailable(batch.len(), &e) {
                return all;
            }
            let mut results = Vec::with_capacity(batch.len());
            for r in batch.iter() {
                let alone = redeem(kept, Arc::new(vec![r.clone()])).await;
                results.push(alone.map(|won| won.first() == Some(&true)));
            }
            results
        }
    }
}

/// Takes the batch's codes and starts the families of those taken, all or nothing; answers, in
/// order, which were taken.
async fn redeem(kept: &Kept<Db>, batch: Arc<Vec<Redemption>>) -> Result<Vec<bool>, StoreError> {
    kept.run(|conn| {
        let batch = batch.clone();
        Box::pin(async move {
            let won: HashSet<String> = match REDEEM_ROWS {
                Some(statement) => statement(&batch)
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()?,
                None => taken_then_started(conn, &batch).await?,
            };
            Ok(batch
                .iter()
                .map(|r| won.contains(&r.family.family.id))
                .collect())
        })
    })
    .await
}

/// SQLite's redemption, which runs several statements in one call to its worker thread: `BEGIN`
/// and one `UPDATE … FROM` the batch that takes the codes and answers with the families that took
/// them; then the `INSERT`s of those families and `COMMIT`. Two hand-offs to the worker per
/// batch, where a statement per code cost one each. Of two redemptions of one code in the batch,
/// the `UPDATE` takes the row once, from one of them: the family it names is the one that won. A
/// failure leaves the transaction open, and the kept connection is then dropped, which rolls it
/// back (`kept.rs`).
async fn taken_then_started(
    conn: &mut Conn,
    batch: &[Redemption],
) -> Result<HashSet<String>, sqlx::Error> {
    let mut take = statements();
    take.push(
        "BEGIN IMMEDIATE; UPDATE authorization_codes AS c \
         SET used_at = w.column3, family_id = w.column2 FROM (",
    );
    take.push_values(batch, |mut b, r| {
        b.push_bind(r.code.as_bytes())
            .push_bind(r.family.family.id.as_str())
            .push_bind(r.now);
    });
    take.push(
        ") AS w WHERE c.hash = w.column1 AND c.used_at IS NULL AND c.expires_at > w.column3 \
         RETURNING family_id",
    );
    let won: HashSet<String> = take
        .build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let started: Vec<&NewFamily> = batch
        .iter()
        .filter(|r| won.contains(&r.family.family.id))
        .map(|r| &r.family)
        .collect();
    let mut write = statements();
    for table in FamilyTable::ALL {
        if table.push_insert(&mut write, &started) {
            write.push("; ");
        }
    }
    write.push("COMMIT");
    write.build().execute(&mut *conn).await?;
    Ok(won)
}

#[async_trait]
impl AuthorizationStore for SqlStore<Db> {
    async fn insert_code(&self, c: &CodeRow) -> Result<(), StoreError> {
        let c = c.clone();
        self.write(move |tx| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO authorization_codes (hash, client_id, user_id, redirect_uri, \
                     scopes, code_challenge, nonce, auth_time, issued_at, expires_at, used_at, \
                     family_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(c.hash.as_bytes())
                .bind(&c.client_id)
                .bind(c.user_id.0)
                .bind(&c.redirect_uri)
                .bind(join(&c.scopes))
                .bind(c.code_challenge.as_deref())
                .bind(c.nonce.as_deref())
                .bind(c.auth_time)
                .bind(c.issued_at)
                .bind(c.expires_at)
                .bind(c.used_at)
                .bind(c.family_id.as_deref())
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                Ok(())
            })
        })
        .await
    }

    async fn code(&self, hash: &TokenHash) -> Result<Option<CodeRow>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            code_columns!(),
            " FROM authorization_codes WHERE hash = $1"
        ))
        .bind(hash.as_bytes())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(code_row).transpose()
    }

    async fn code_and_user(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(CodeRow, Option<User>)>, StoreError> {
        // The two tables share no column name, so the row decodes as either; `id` is the users'
        // and NULL when the user is gone (codes keep no foreign key to users).
        static CODE_AND_USER: ByHash = by_hash!(
            select concat!(code_columns!(), ", ", user_columns!()),
            from "authorization_codes LEFT JOIN users ON users.id = authorization_codes.user_id",
            key "authorization_codes.hash"
        );
        let row = self.row_by_hash(&CODE_AND_USER, hash).await?;
        let Some(r) = row else { return Ok(None) };
        let holder = match r.try_get::<Option<i64>, _>("id").map_err(backend)? {
            Some(_) => Some(user(&r).map_err(backend)?),
            None => None,
        };
        Ok(Some((code_row(&r)?, holder)))
    }

    async fn redeem_code(
        &self,
        hash: &TokenHash,
        now: i64,
        family: &Family,
        first: &NewRefresh,
        access: Option<&AccessTokenRow>,
    ) -> Result<bool, StoreError> {
        self.redemptions
            .submit(Redemption {
                code: *hash,
                now,
                family: NewFamily {
                    family: family.clone(),
                    first: first.clone(),
                    access: access.cloned(),
                },
            })
            .await
    }

    async fn purge_codes(&self, expired_before: i64, batch: u32) -> Result<u64, StoreError> {
        self.delete_batch(
            "DELETE FROM authorization_codes WHERE hash IN (SELECT hash FROM \
             authorization_codes WHERE expires_at < $1 LIMIT $2)",
            expired_before,
            batch,
        )
        .await
    }

    async fn consent(&self, user: UserId, client_id: &str) -> Result<Option<Consent>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, client_id, scopes, granted_at FROM consents \
             WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user.0)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(consent_row).transpose().map_err(backend)
    }

    async fn save_consent(&self, c: &Consent) -> Result<(), StoreError> {
        let c = c.clone();
        self.write(move |tx| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO consents (user_id, client_id, scopes, granted_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, client_id) \
                     DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
                )
                .bind(c.user_id.0)
                .bind(&c.client_id)
                .bind(join(&c.scopes))
                .bind(c.granted_at)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                Ok(())
            })
        })
        .await
    }

    async fn revoke_consent(&self, user: UserId, client_id: &str) -> Result<bool, StoreError> {
        let client_id = client_id.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                let done =
                    sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
                        .bind(user.0)
                        .bind(&client_id)
                        .execute(&mut **tx)
                        .await
                        .map_err(backend)?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }

    async fn consents(&self, user: UserId) -> Result<Vec<Consent>, StoreError> {
        let rows = sqlx::query(
            "SELECT user_id, client_id, scopes, granted_at FROM consents \
             WHERE user_id = $1 ORDER BY client_id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(consent_row)
            .collect::<Result<_, _>>()
            .map_err(backend)
    }
}
