//! Open edX AuthZ rules in `casbin_rule` shape and the version counter every node watches:
//! [`AuthzStore`]. A call that changes rules does it in one write: the rows, one version bump, one
//! audit event per rule (`audit.rs`).

use async_trait::async_trait;
use latchkey_core::authz::rule::line;
use latchkey_core::notice::Change;
use latchkey_core::store::{AuditEvent, AuthzStore, RuleRow, StoreError};
use sqlx::{QueryBuilder, Row};

use super::{audit, Conn, Db, DbRow};
use crate::errors::backend;
use crate::store::SqlStore;

/// Rows per multi-row statement: 7 parameters each stays far below either backend's limit.
const CHUNK: usize = 100;

const ADDED: &str = "authz.rule.add";
const REMOVED: &str = "authz.rule.remove";

fn rule_row(r: &DbRow) -> Result<RuleRow, sqlx::Error> {
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

async fn add(conn: &mut Conn, rows: &[RuleRow]) -> Result<Vec<RuleRow>, StoreError> {
    let mut inserted = Vec::new();
    for chunk in rows.chunks(CHUNK) {
        let mut insert =
            QueryBuilder::<Db>::new("INSERT INTO authz_rules (ptype, v0, v1, v2, v3, v4, v5) ");
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
        let done = insert
            .build()
            .fetch_all(&mut *conn)
            .await
            .map_err(backend)?;
        for r in &done {
            inserted.push(rule_row(r).map_err(backend)?);
        }
    }
    Ok(inserted)
}

async fn remove(conn: &mut Conn, rows: &[RuleRow]) -> Result<Vec<RuleRow>, StoreError> {
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
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
        if done.rows_affected() > 0 {
            removed.push(row.clone());
        }
    }
    Ok(removed)
}

/// Ends a change: if anything changed, one version bump and one audit event per changed rule,
/// in the same transaction as the rows.
async fn finish(
    conn: &mut Conn,
    changed: &[RuleRow],
    action: &'static str,
    actor: &str,
    now: i64,
) -> Result<u64, StoreError> {
    if changed.is_empty() {
        return Ok(0);
    }
    sqlx::query("UPDATE authz_state SET version = version + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    let details: Vec<String> = changed.iter().map(line).collect();
    audit::record(conn, now, actor, action, &details).await?;
    Ok(changed.len() as u64)
}

#[async_trait]
impl AuthzStore for SqlStore<Db> {
    async fn authz_rules(&self) -> Result<Vec<RuleRow>, StoreError> {
        let rows = sqlx::query("SELECT ptype, v0, v1, v2, v3, v4, v5 FROM authz_rules ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(rule_row)
            .collect::<Result<_, _>>()
            .map_err(backend)
    }

    async fn add_authz_rules(
        &self,
        rows: &[RuleRow],
        actor: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let (rows, actor) = (rows.to_vec(), actor.to_owned());
        self.announcing(move |tx| {
            Box::pin(async move {
                let inserted = add(tx, &rows).await?;
                let n = finish(tx, &inserted, ADDED, &actor, now).await?;
                Ok((n, (n > 0).then_some(Change::Authz)))
            })
        })
        .await
    }

    async fn remove_authz_rules(
        &self,
        rows: &[RuleRow],
        actor: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let (rows, actor) = (rows.to_vec(), actor.to_owned());
        self.announcing(move |tx| {
            Box::pin(async move {
                let removed = remove(tx, &rows).await?;
                let n = finish(tx, &removed, REMOVED, &actor, now).await?;
                Ok((n, (n > 0).then_some(Change::Authz)))
            })
        })
        .await
    }

    async fn authz_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT version FROM authz_state WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        row.try_get("version").map_err(backend)
    }

    async fn staff_keys(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT username, email FROM users WHERE is_staff OR is_superuser")
            .fetch_all(&self.pool)
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
        audit::newest(&self.pool, limit).await
    }
}
