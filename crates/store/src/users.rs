//! Users: [`UserStore`].

use async_trait::async_trait;
use latchkey_core::notice::Change;
use latchkey_core::password::django_iterations;
use latchkey_core::store::{NewUserRow, PasswordMix, StoreError, UserStore};
use latchkey_core::user::{email_key, LoginKeys, User, UserId};
use sqlx::Row;

use super::revocations::cut_off;
use super::{Db, DbRow};
use crate::errors::backend;
use crate::store::SqlStore;

/// The columns [`user`] reads, as a literal for `concat!`.
macro_rules! user_columns {
    () => {
        "id, username, email, name, given_name, family_name, email_verified, disabled, is_staff, \
         is_superuser, password_hash, sub, created_at"
    };
}
pub(super) use user_columns;

pub(super) fn user(r: &DbRow) -> Result<User, sqlx::Error> {
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

#[async_trait]
impl UserStore for SqlStore<Db> {
    async fn insert_user(&self, u: &NewUserRow) -> Result<User, StoreError> {
        let u = u.clone();
        self.announcing(move |tx| {
            Box::pin(async move {
                let row = sqlx::query(concat!(
                    "INSERT INTO users (username, email, name, email_verified, is_staff, \
                     is_superuser, password_hash, sub, created_at, email_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ",
                    user_columns!()
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
                .bind(email_key(&u.email))
                .fetch_one(&mut **tx)
                .await
                .map_err(backend)?;
                // openedx-authz's staff bypass decides too: a new staff account moves the authz
                // version in the same transaction, so every node and every guard's cache sees it
                // as a policy change. Not at version 0, which means "never written: seed the
                // default policy".
                let staff = u.is_staff || u.is_superuser;
                if staff {
                    sqlx::query(
                        "UPDATE authz_state SET version = version + 1 WHERE id = 1 AND version > 0",
                    )
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                }
                let user = user(&row).map_err(backend)?;
                Ok((user, staff.then_some(Change::Authz)))
            })
        })
        .await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(user).transpose().map_err(backend)
    }

    async fn user_by_login(&self, login: &str) -> Result<Option<User>, StoreError> {
        let keys = LoginKeys::new(login);
        // One statement for the three ways in, so a sign-in is one round trip.
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
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
        row.as_ref().map(user).transpose().map_err(backend)
    }

    async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let username = username.to_owned();
        self.announcing(move |tx| {
            Box::pin(async move {
                let id: Option<i64> = sqlx::query_scalar(
                    "UPDATE users SET disabled = $2 WHERE username = $1 RETURNING id",
                )
                .bind(&username)
                .bind(disabled)
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend)?;
                let Some(id) = id.map(UserId) else {
                    return Ok((false, None));
                };
                if disabled {
                    cut_off(tx, id, now).await?;
                }
                Ok((true, Some(Change::User(id))))
            })
        })
        .await
    }

    async fn cut_off_user(
        &self,
        username: &str,
        at: i64,
        password_hash: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (username, password_hash) = (username.to_owned(), password_hash.map(str::to_owned));
        self.announcing(move |tx| {
            Box::pin(async move {
                // Without a new password the hash is written back as it is: one statement finds
                // the user and locks the row either way.
                let id: Option<i64> = sqlx::query_scalar(
                    "UPDATE users SET password_hash = COALESCE($2, password_hash) \
                     WHERE username = $1 RETURNING id",
                )
                .bind(&username)
                .bind(&password_hash)
                .fetch_optional(&mut **tx)
                .await
                .map_err(backend)?;
                let Some(id) = id.map(UserId) else {
                    return Ok((false, None));
                };
                cut_off(tx, id, at).await?;
                Ok((true, Some(Change::User(id))))
            })
        })
        .await
    }

    async fn replace_password_hash(
        &self,
        id: UserId,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let (old, new) = (old.to_owned(), new.to_owned());
        self.write(move |tx| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
                )
                .bind(id.0)
                .bind(&old)
                .bind(&new)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(user)
            .collect::<Result<_, _>>()
            .map_err(backend)
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
