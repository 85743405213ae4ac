//! Signing keys: [`KeyStore`].

use async_trait::async_trait;
use latchkey_core::notice::Change;
use latchkey_core::store::{KeyRevocation, KeyState, KeyStore, StoreError, StoredKey};
use sqlx::Row;

use super::Db;
use crate::errors::{backend, corrupt};
use crate::store::SqlStore;

fn state(s: &str) -> Result<KeyState, StoreError> {
    KeyState::parse(s).ok_or_else(|| corrupt(format!("unknown key state {s:?}")))
}

#[async_trait]
impl KeyStore for SqlStore<Db> {
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
                Ok(StoredKey {
                    kid: r.try_get("kid").map_err(backend)?,
                    alg: alg.parse().map_err(corrupt)?,
                    state: state(r.try_get("state").map_err(backend)?)?,
                    sealed_private: r.try_get("sealed_private").map_err(backend)?,
                    created_at: r.try_get("created_at").map_err(backend)?,
                    retired_at: r.try_get("retired_at").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn insert_key(&self, k: &StoredKey) -> Result<(), StoreError> {
        let k = k.clone();
        self.announcing(move |tx| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO signing_keys (kid, alg, state, sealed_private, created_at, \
                     retired_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&k.kid)
                .bind(k.alg.to_string())
                .bind(k.state.as_str())
                .bind(&k.sealed_private)
                .bind(k.created_at)
                .bind(k.retired_at)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                Ok(((), Some(Change::Keys)))
            })
        })
        .await
    }

    async fn promote_key(&self, kid: &str, now: i64) -> Result<(), StoreError> {
        let kid = kid.to_owned();
        self.announcing(move |tx| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE signing_keys SET state = 'retired', retired_at = $1 \
                     WHERE state = 'current'",
                )
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                let done = sqlx::query(
                    "UPDATE signing_keys SET state = 'current', retired_at = NULL \
                     WHERE kid = $1 AND state <> 'revoked'",
                )
                .bind(&kid)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                // The error rolls the retirement back: the current key stays current.
                if done.rows_affected() != 1 {
                    return Err(StoreError::NotFound(format!("unrevoked signing key {kid}")));
                }
                Ok(((), Some(Change::Keys)))
            })
        })
        .await
    }

    async fn revoke_key(&self, kid: &str, now: i64) -> Result<KeyRevocation, StoreError> {
        let kid = kid.to_owned();
        self.announcing(move |tx| {
            Box::pin(async move {
                // A key's state only moves forward (next, current, retired, revoked), so a key
                // seen between the two statements as revocable is revoked on the next turn.
                for _ in 0..3 {
                    let done = sqlx::query(
                        "UPDATE signing_keys SET state = 'revoked', retired_at = $2, \
                         sealed_private = $3 WHERE kid = $1 AND state IN ('next', 'retired')",
                    )
                    .bind(&kid)
                    .bind(now)
                    .bind(Vec::<u8>::new())
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                    if done.rows_affected() == 1 {
                        return Ok((KeyRevocation::Revoked, Some(Change::Keys)));
                    }
                    let found: Option<String> =
                        sqlx::query_scalar("SELECT state FROM signing_keys WHERE kid = $1")
                            .bind(&kid)
                            .fetch_optional(&mut **tx)
                            .await
                            .map_err(backend)?;
                    let Some(found) = found else {
                        return Ok((KeyRevocation::Unknown, None));
                    };
                    match state(&found)? {
                        KeyState::Revoked => return Ok((KeyRevocation::AlreadyRevoked, None)),
                        KeyState::Current => return Ok((KeyRevocation::Current, None)),
                        KeyState::Next | KeyState::Retired => continue,
                    }
                }
                Err(corrupt(format!("signing key {kid} keeps changing state")))
            })
        })
        .await
    }

    async fn delete_keys_retired_before(&self, before: i64) -> Result<u64, StoreError> {
        self.announcing(move |tx| {
            Box::pin(async move {
                let done = sqlx::query(
                    "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < $1",
                )
                .bind(before)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                let n = done.rows_affected();
                Ok((n, (n > 0).then_some(Change::Keys)))
            })
        })
        .await
    }
}
