//! The revocation feed: [`RevocationStore`], and how the writes that feed it number their entries
//! and cut a user off.

use async_trait::async_trait;
use latchkey_core::store::{NotBefore, RevocationPage, RevocationStore, RevokedJti, StoreError};
use latchkey_core::user::UserId;

use super::{Conn, Db};
use crate::errors::backend;
use crate::store::SqlStore;

/// Both kinds of entries, numbered, as one list: `jti` (with its `exp` as `at`) or `sub` (with its
/// not-before instant as `at`).
macro_rules! entries_where {
    ($cond:literal) => {
        concat!(
            "SELECT seq, jti, CAST(NULL AS TEXT) AS sub, expires_at AS at FROM revoked_jtis \
             WHERE seq ",
            $cond,
            " UNION ALL SELECT seq, CAST(NULL AS TEXT), sub, not_before FROM user_not_before \
             WHERE seq ",
            $cond,
            " ORDER BY seq"
        )
    };
}

/// The number of the transaction that is writing entries: it moves the one counter row, whose
/// lock then holds every other such transaction until this one commits, so that numbers become
/// visible in order (migration 0009).
pub(super) async fn next_number(conn: &mut Conn) -> Result<i64, StoreError> {
    sqlx::query_scalar("UPDATE revocation_cursor SET seq = seq + 1 WHERE id = 1 RETURNING seq")
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)
}

/// Cuts a user off as of `at`: their sessions, refresh families (with the opaque access tokens
/// issued in them), other opaque access tokens and unredeemed codes end, and a not-before
/// instant refuses their JWTs issued earlier.
pub(super) async fn cut_off(conn: &mut Conn, user: UserId, at: i64) -> Result<(), StoreError> {
    let number = next_number(&mut *conn).await?;
    // `iat` counts whole seconds, so the instant is the second after the cut-off's: a token
    // issued in the same second, before it, is refused too (one issued in that second after it is
    // refused for less than a second: its client gets a fresh one). A later cut-off moves the
    // instant forward, never back, and renumbers the row, so that followers read it again.
    sqlx::query(
        "INSERT INTO user_not_before (user_id, sub, not_before, seq) \
         SELECT id, sub, $2, $3 FROM users WHERE id = $1 \
         ON CONFLICT (user_id) DO UPDATE SET sub = excluded.sub, seq = excluded.seq, \
         not_before = CASE WHEN excluded.not_before > user_not_before.not_before \
         THEN excluded.not_before ELSE user_not_before.not_before END",
    )
    .bind(user.0)
    .bind(at + 1)
    .bind(number)
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    // Each statement binds exactly the parameters it names: sqlx caches prepared statements by
    // their text, and one prepared with an extra parameter would break another use of that text.
    for statement in [
        "DELETE FROM sessions WHERE user_id = $1",
        "DELETE FROM authorization_codes WHERE user_id = $1 AND used_at IS NULL",
    ] {
        sqlx::query(statement)
            .bind(user.0)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    for statement in [
        "UPDATE refresh_families SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        "UPDATE access_tokens SET revoked = TRUE WHERE user_id = $1 AND revoked = FALSE \
         AND expires_at > $2",
    ] {
        sqlx::query(statement)
            .bind(user.0)
            .bind(at)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

type Entry = (i64, Option<String>, Option<String>, i64);

#[async_trait]
impl RevocationStore for SqlStore<Db> {
    async fn revocation_head(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT seq FROM revocation_cursor WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    async fn revocations_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<RevocationPage, StoreError> {
        // The head first: every entry numbered up to it has committed, so the entries read next
        // include all of them.
        let head = self.revocation_head().await?;
        let mut entries: Vec<Entry> = sqlx::query_as(concat!(entries_where!("> $1"), " LIMIT $2"))
            .bind(after)
            .bind(i64::from(limit.max(1)))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let full = entries.len() >= limit.max(1) as usize;
        let mut cursor = entries.last().map_or(after, |e| e.0).max(after);
        if full {
            let last = cursor;
            if entries.first().is_some_and(|e| e.0 != last) {
                // The last transaction's entries may go on beyond the page: they come next time.
                entries.retain(|e| e.0 != last);
                cursor = entries.last().map_or(after, |e| e.0);
            } else {
                // One transaction filled the page: it comes whole.
                entries = sqlx::query_as(entries_where!("= $1"))
                    .bind(last)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
            }
        } else {
            cursor = cursor.max(head);
        }
        let mut page = RevocationPage {
            head,
            cursor,
            more: full,
            ..RevocationPage::default()
        };
        for (_, jti, sub, at) in entries {
            match (jti, sub) {
                (Some(jti), _) => page.jtis.push(RevokedJti { jti, exp: at }),
                (None, Some(sub)) => page.users.push(NotBefore {
                    sub,
                    not_before: at,
                }),
                (None, None) => return Err(StoreError::Corrupt("an empty feed entry".into())),
            }
        }
        Ok(page)
    }

    async fn purge_not_before(&self, before: i64, batch: u32) -> Result<u64, StoreError> {
        self.delete_batch(
            "DELETE FROM user_not_before WHERE user_id IN (SELECT user_id FROM \
             user_not_before WHERE not_before < $1 LIMIT $2)",
            before,
            batch,
        )
        .await
    }
}
