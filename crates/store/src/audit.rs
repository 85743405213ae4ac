//! The audit trail: who did what to what, when. Written in the transaction of the change it
//! records (`authz.rs`), read by [`AuthzStore::audit_events`](latchkey_core::store::AuthzStore).

use latchkey_core::store::{AuditEvent, StoreError};
use sqlx::{QueryBuilder, Row};

use super::{Conn, Db};
use crate::errors::backend;

/// Rows per multi-row statement: 4 parameters each stays far below either backend's limit.
const CHUNK: usize = 100;

/// Records one event per `detail`, all by `actor` doing `action` at `now`.
pub(super) async fn record(
    conn: &mut Conn,
    now: i64,
    actor: &str,
    action: &'static str,
    details: &[String],
) -> Result<(), StoreError> {
    for chunk in details.chunks(CHUNK) {
        let mut insert =
            QueryBuilder::<Db>::new("INSERT INTO audit_events (at, actor, action, detail) ");
        insert.push_values(chunk, |mut b, detail| {
            b.push_bind(now)
                .push_bind(actor.to_owned())
                .push_bind(action)
                .push_bind(detail.clone());
        });
        insert.build().execute(&mut *conn).await.map_err(backend)?;
    }
    Ok(())
}

/// The newest `limit` events, newest first.
pub(super) async fn newest(
    pool: &sqlx::Pool<Db>,
    limit: u32,
) -> Result<Vec<AuditEvent>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, at, actor, action, detail FROM audit_events ORDER BY id DESC LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
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
