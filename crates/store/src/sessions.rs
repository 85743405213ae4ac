//! Browser sessions: [`SessionStore`], by the keyed hash of their cookie, with the user they
//! belong to read in the same statement.

use async_trait::async_trait;
use latchkey_core::secret::TokenHash;
use latchkey_core::store::{SessionRow, SessionStore, StoreError};
use latchkey_core::user::{User, UserId};
use sqlx::Row;

use super::users::user;
use super::{Db, DbRow};
use crate::errors::{backend, corrupt};
use crate::lookup::{by_hash, ByHash};
use crate::store::SqlStore;

/// The session columns [`session_row`] reads; `created_at` is renamed because the user's row,
/// joined beside it, has one too.
macro_rules! session_columns {
    () => {
        "s.hash, s.user_id, s.auth_time, s.created_at AS session_created_at, s.expires_at, \
         s.idle_expires_at"
    };
}

fn session_row(r: &DbRow) -> Result<SessionRow, StoreError> {
    let hash: Vec<u8> = r.try_get("hash").map_err(backend)?;
    Ok(SessionRow {
        hash: TokenHash::from_bytes(&hash)
            .ok_or_else(|| corrupt("a stored session hash is not 32 bytes"))?,
        user_id: UserId(r.try_get("user_id").map_err(backend)?),
        auth_time: r.try_get("auth_time").map_err(backend)?,
        created_at: r.try_get("session_created_at").map_err(backend)?,
        expires_at: r.try_get("expires_at").map_err(backend)?,
        idle_expires_at: r.try_get("idle_expires_at").map_err(backend)?,
    })
}

#[async_trait]
impl SessionStore for SqlStore<Db> {
    async fn insert_session(&self, row: &SessionRow) -> Result<(), StoreError> {
        let row = row.clone();
        self.write(move |tx| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO sessions (hash, user_id, auth_time, created_at, expires_at, \
                     idle_expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(row.hash.as_bytes().to_vec())
                .bind(row.user_id.0)
                .bind(row.auth_time)
                .bind(row.created_at)
                .bind(row.expires_at)
                .bind(row.idle_expires_at)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                Ok(())
            })
        })
        .await
    }

    async fn session(&self, hash: &TokenHash) -> Result<Option<(SessionRow, User)>, StoreError> {
        static SESSION_AND_USER: ByHash = by_hash!(
            select concat!(session_columns!(), ", u.*"),
            from "sessions s JOIN users u ON u.id = s.user_id",
            key "s.hash"
        );
        let row = self.row_by_hash(&SESSION_AND_USER, hash).await?;
        let Some(r) = row else {
            return Ok(None);
        };
        Ok(Some((session_row(&r)?, user(&r).map_err(backend)?)))
    }

    async fn touch_session(
        &self,
        hash: &TokenHash,
        idle_expires_at: i64,
    ) -> Result<bool, StoreError> {
        let hash = hash.as_bytes().to_vec();
        self.write(move |tx| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE sessions SET idle_expires_at = $2 \
                     WHERE hash = $1 AND idle_expires_at < $2",
                )
                .bind(hash)
                .bind(idle_expires_at)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                Ok(done.rows_affected() > 0)
            })
        })
        .await
    }

    async fn delete_session(&self, hash: &TokenHash) -> Result<bool, StoreError> {
        let hash = hash.as_bytes().to_vec();
        self.write(move |tx| {
            Box::pin(async move {
                let done = sqlx::query("DELETE FROM sessions WHERE hash = $1")
                    .bind(hash)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected() > 0)
            })
        })
        .await
    }

    async fn user_sessions(&self, user: UserId) -> Result<Vec<SessionRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions s WHERE s.user_id = $1 ORDER BY s.created_at, s.hash"
        ))
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(session_row).collect()
    }

    async fn delete_user_sessions(&self, user: UserId) -> Result<u64, StoreError> {
        self.write(move |tx| {
            Box::pin(async move {
                let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user.0)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected())
            })
        })
        .await
    }

    async fn purge_expired_sessions(&self, now: i64, batch: u32) -> Result<u64, StoreError> {
        self.delete_batch(
            "DELETE FROM sessions WHERE hash IN (SELECT hash FROM sessions \
             WHERE expires_at <= $1 OR idle_expires_at <= $1 LIMIT $2)",
            now,
            batch,
        )
        .await
    }
}
