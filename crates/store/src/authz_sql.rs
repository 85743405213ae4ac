//! [`AuthzStore`] on both backends, one body of SQL like `sql.rs`: Open edX AuthZ rules in
//! `casbin_rule` shape, the version counter every node watches, and the audit trail. A call that
//! changes rules does it in one transaction: the rows, one version bump, one audit event per rule.

use async_trait::async_trait;
use latchkey_core::authz::rule::line;
use latchkey_core::store::{AuditEvent, AuthzStore, RuleRow, StoreError};
use sqlx::{QueryBuilder, Row};

use crate::codec::backend;
use crate::sql::{detached, PgStore, SqliteStore};

/// Rows per multi-row statement: 7 parameters each stays far below either backend's limit.
const CHUNK: usize = 100;

const ADDED: &str = "authz.rule.add";
const REMOVED: &str = "authz.rule.remove";

macro_rules! authz_store {
    ($store:ident, $db:ty) => {
        impl $store {
            fn rule_row(r: &<$db as sqlx::Database>::Row) -> Result<RuleRow, sqlx::Error> {
                Ok(RuleRow {
                    ptype: r.try_get("ptype")?,
                    values: [
                        r.try_get("v0")?,
                        r.try_get("v1")?,
                        r.try_get("v2")?,
                        r.try_get("v3")?,
                        r.try_get("v4")?,
                        r.try_get("v5")?,
                    ],
                })
            }

            async fn add_authz_rules_tx(
                &self,
                rows: &[RuleRow],
                actor: &str,
                now: i64,
            ) -> Result<u64, StoreError> {
                let mut tx = self.pool().begin().await.map_err(backend)?;
                let mut inserted = Vec::new();
                for chunk in rows.chunks(CHUNK) {
                    let mut insert = QueryBuilder::<$db>::new(
                        "INSERT INTO authz_rules (ptype, v0, v1, v2, v3, v4, v5) ",
                    );
                    insert.push_values(chunk, |mut b, row| {
                        b.push_bind(row.ptype.clone());
                        for value in &row.values {
                            b.push_bind(value.clone());
                        }
                    });
                    insert.push(
                        " ON CONFLICT (ptype, v0, v1, v2, v3, v4, v5) DO NOTHING \
                         RETURNING ptype, v0, v1, v2, v3, v4, v5",
                    );
                    let done = insert.build().fetch_all(&mut *tx).await.map_err(backend)?;
                    for r in &done {
                        inserted.push(Self::rule_row(r).map_err(backend)?);
                    }
                }
                Self::finish(tx, &inserted, ADDED, actor, now).await
            }

            async fn remove_authz_rules_tx(
                &self,
                rows: &[RuleRow],
                actor: &str,
                now: i64,
            ) -> Result<u64, StoreError> {
                let mut tx = self.pool().begin().await.map_err(backend)?;
                let mut removed = Vec::new();
                for row in rows {
                    let done = sqlx::query(
                        "DELETE FROM authz_rules WHERE ptype = $1 AND v0 = $2 AND v1 = $3 \
                         AND v2 = $4 AND v3 = $5 AND v4 = $6 AND v5 = $7",
                    )
                    .bind(&row.ptype)
                    .bind(&row.values[0])
                    .bind(&row.values[1])
                    .bind(&row.values[2])
                    .bind(&row.values[3])
                    .bind(&row.values[4])
                    .bind(&row.values[5])
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                    if done.rows_affected() > 0 {
                        removed.push(row.clone());
                    }
                }
                Self::finish(tx, &removed, REMOVED, actor, now).await
            }

            /// Ends a change: nothing changed, nothing written; else one version bump and one
            /// event per changed rule, committed with the rows.
            async fn finish(
                mut tx: sqlx::Transaction<'_, $db>,
                changed: &[RuleRow],
                action: &'static str,
                actor: &str,
                now: i64,
            ) -> Result<u64, StoreError> {
                if changed.is_empty() {
                    tx.rollback().await.map_err(backend)?;
                    return Ok(0);
                }
                sqlx::query("UPDATE authz_state SET version = version + 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                for chunk in changed.chunks(CHUNK) {
                    let mut insert = QueryBuilder::<$db>::new(
                        "INSERT INTO audit_events (at, actor, action, detail) ",
                    );
                    insert.push_values(chunk, |mut b, row| {
                        b.push_bind(now)
                            .push_bind(actor.to_owned())
                            .push_bind(action)
                            .push_bind(line(row));
                    });
                    insert.build().execute(&mut *tx).await.map_err(backend)?;
                }
                tx.commit().await.map_err(backend)?;
                Ok(changed.len() as u64)
            }
        }

        #[async_trait]
        impl AuthzStore for $store {
            async fn authz_rules(&self) -> Result<Vec<RuleRow>, StoreError> {
                let rows = sqlx::query(
                    "SELECT ptype, v0, v1, v2, v3, v4, v5 FROM authz_rules ORDER BY id",
                )
                .fetch_all(self.pool())
                .await
                .map_err(backend)?;
                rows.iter()
                    .map(Self::rule_row)
                    .collect::<Result<_, _>>()
                    .map_err(backend)
            }

            async fn add_authz_rules(
                &self,
                rows: &[RuleRow],
                actor: &str,
                now: i64,
            ) -> Result<u64, StoreError> {
                let (this, rows, actor) = (self.clone(), rows.to_vec(), actor.to_owned());
                detached(async move { this.add_authz_rules_tx(&rows, &actor, now).await }).await
            }

            async fn remove_authz_rules(
                &self,
                rows: &[RuleRow],
                actor: &str,
                now: i64,
            ) -> Result<u64, StoreError> {
                let (this, rows, actor) = (self.clone(), rows.to_vec(), actor.to_owned());
                detached(async move { this.remove_authz_rules_tx(&rows, &actor, now).await }).await
            }

            async fn authz_version(&self) -> Result<i64, StoreError> {
                let row = sqlx::query("SELECT version FROM authz_state WHERE id = 1")
                    .fetch_one(self.pool())
                    .await
                    .map_err(backend)?;
                row.try_get("version").map_err(backend)
            }

            async fn staff_keys(&self) -> Result<Vec<String>, StoreError> {
                let rows =
                    sqlx::query("SELECT username, email FROM users WHERE is_staff OR is_superuser")
                        .fetch_all(self.pool())
                        .await
                        .map_err(backend)?;
                let mut keys = Vec::with_capacity(rows.len() * 2);
                for r in &rows {
                    keys.push(r.try_get("username").map_err(backend)?);
                    keys.push(r.try_get("email").map_err(backend)?);
                }
                Ok(keys)
            }

            async fn audit_events(&self, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
                let rows = sqlx::query(
                    "SELECT id, at, actor, action, detail FROM audit_events \
                     ORDER BY id DESC LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await
                .map_err(backend)?;
                rows.iter()
                    .map(|r| {
                        Ok(AuditEvent {
                            id: r.try_get("id")?,
                            at: r.try_get("at")?,
                            actor: r.try_get("actor")?,
                            action: r.try_get("action")?,
                            detail: r.try_get("detail")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(backend)
            }
        }
    };
}

authz_store!(SqliteStore, sqlx::Sqlite);
authz_store!(PgStore, sqlx::Postgres);
