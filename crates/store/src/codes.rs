//! Authorization codes (kept only as keyed hashes) and remembered consent:
//! [`AuthorizationStore`]. Taking a code is one conditional UPDATE, so of two exchanges of one
//! code exactly one sees its row change.

use async_trait::async_trait;
use latchkey_core::secret::TokenHash;
use latchkey_core::store::{
    AccessTokenRow, AuthorizationStore, CodeRow, Consent, Family, NewRefresh, StoreError,
};
use latchkey_core::user::UserId;
use sqlx::Row;

use super::tokens::insert_family;
use super::{Db, DbRow};
use crate::codec::{hash_of, join, split};
use crate::errors::backend;
use crate::store::SqlStore;

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
        let row = sqlx::query(
            "SELECT hash, client_id, user_id, redirect_uri, scopes, code_challenge, nonce, \
             auth_time, issued_at, expires_at, used_at, family_id \
             FROM authorization_codes WHERE hash = $1",
        )
        .bind(hash.as_bytes())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(code_row).transpose()
    }

    async fn redeem_code(
        &self,
        hash: &TokenHash,
        now: i64,
        family: &Family,
        first: &NewRefresh,
        access: Option<&AccessTokenRow>,
    ) -> Result<bool, StoreError> {
        let (hash, family, first, access) = (*hash, family.clone(), first.clone(), access.cloned());
        self.write(move |tx| {
            Box::pin(async move {
                let taken = sqlx::query(
                    "UPDATE authorization_codes SET used_at = $2, family_id = $3 \
                     WHERE hash = $1 AND used_at IS NULL AND expires_at > $2",
                )
                .bind(hash.as_bytes())
                .bind(now)
                .bind(&family.id)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                if taken.rows_affected() != 1 {
                    return Ok(false);
                }
                insert_family(tx, &family, &first, access.as_ref()).await?;
                Ok(true)
            })
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
