//! Password attempt counters that every node shares: [`AttemptStore`] on PostgreSQL only, in the
//! table `password_limits` (migration 0010). SQLite serves one node, which counts in process.
//!
//! Each method is one statement on the pool, outside any transaction: a reservation or an ending
//! costs one round trip, where `BEGIN` and `COMMIT` would make it three. Each statement is atomic by
//! itself, and a counter's row is locked while it changes: concurrent reservations from any number
//! of nodes queue on the row, and each sees the one before it.
//!
//! Both statements change the network's row before the account's, so that no two of them ever
//! wait for each other. A data-modifying `WITH` runs when what follows reads it, so the account's
//! change reads the network's.

use std::sync::LazyLock;

use async_trait::async_trait;
use latchkey_core::store::{
    AttemptEnd, AttemptLimit, AttemptStore, AttemptWindow, StoreError, Taken,
};
use latchkey_core::throttle::Outcome;
use sqlx::Row;

use crate::errors::{backend, corrupt};
use crate::store::PgStore;

/// Takes an attempt from one counter, unless `only_if` is false: `$1` now, `$2` the window's
/// length, `key` and `limit` the counter's. A window that has ended is started afresh at `$1`,
/// empty; a full one refuses and keeps its counts. `last_taken` tells the statement's
/// `RETURNING` whether it took the attempt.
fn take_one(key: &str, limit: &str, only_if: &str) -> String {
    format!(
        "INSERT INTO password_limits AS c (key, started, attempts, in_flight, last_taken) \
         SELECT {key}, $1, LEAST({limit}, 1), LEAST({limit}, 1), {limit} > 0 WHERE {only_if} \
         ON CONFLICT (key) DO UPDATE SET \
           started = CASE WHEN c.started + $2 <= $1 THEN $1 ELSE c.started END, \
           attempts = CASE WHEN c.started + $2 <= $1 THEN LEAST({limit}, 1) \
             WHEN c.attempts < {limit} THEN c.attempts + 1 ELSE c.attempts END, \
           in_flight = CASE WHEN c.started + $2 <= $1 THEN LEAST({limit}, 1) \
             WHEN c.attempts < {limit} THEN c.in_flight + 1 ELSE c.in_flight END, \
           last_taken = CASE WHEN c.started + $2 <= $1 THEN {limit} > 0 \
             ELSE c.attempts < {limit} END \
         RETURNING started, attempts, in_flight, last_taken"
    )
}

/// `$3`, `$4`: the network's key (NULL for none) and limit; `$5`, `$6`: the account's. The
/// account's counter is reached only if the network's took its attempt (or there is none).
static TAKE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH network AS ({}), account AS ({}) \
         SELECT 'network' AS counter, * FROM network \
         UNION ALL SELECT 'account', * FROM account",
        take_one("$3", "$4", "$3 IS NOT NULL"),
        take_one(
            "$5",
            "$6",
            "NOT EXISTS (SELECT 1 FROM network WHERE NOT network.last_taken)"
        ),
    )
});

/// Ends an attempt in one counter, if its window is still the one it was taken in: `key`,
/// `started` and `outcome` (`failed`, `given_back`, `forgiven`) are the attempt's.
fn end_one(key: &str, started: &str, outcome: &str) -> String {
    format!(
        "in_flight = GREATEST(c.in_flight - 1, 0), \
         attempts = CASE {outcome} WHEN 'given_back' THEN GREATEST(c.attempts - 1, 0) \
           WHEN 'forgiven' THEN GREATEST(c.in_flight - 1, 0) ELSE c.attempts END \
         WHERE c.key = {key} AND c.started = {started}"
    )
}

/// `$1`..`$3`: the network's key (NULL for none), window and outcome; `$4`..`$6`: the account's.
/// The account's `UPDATE` reads a count of the network's, so the network's row changes first.
static END: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH network AS (UPDATE password_limits AS c SET {} RETURNING 1) \
         UPDATE password_limits AS c SET {} \
         AND (SELECT count(*) FROM network) >= 0",
        end_one("$1", "$2", "$3"),
        end_one("$4", "$5", "$6"),
    )
});

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Failed => "failed",
        Outcome::GivenBack => "given_back",
        Outcome::Forgiven => "forgiven",
    }
}

/// A limit as a column value: no window holds more attempts than `i32::MAX`.
fn limit(l: u32) -> i32 {
    i32::try_from(l).unwrap_or(i32::MAX)
}

fn window(r: &sqlx::postgres::PgRow) -> Result<AttemptWindow, StoreError> {
    let count = |column: &str| -> Result<u32, StoreError> {
        let n: i32 = r.try_get(column).map_err(backend)?;
        u32::try_from(n).map_err(|_| corrupt(format!("password_limits.{column} is {n}")))
    };
    Ok(AttemptWindow {
        taken: r.try_get("last_taken").map_err(backend)?,
        started: r.try_get("started").map_err(backend)?,
        attempts: count("attempts")?,
        in_flight: count("in_flight")?,
    })
}

#[async_trait]
impl AttemptStore for PgStore {
    async fn take_attempt(
        &self,
        network: Option<&AttemptLimit>,
        account: &AttemptLimit,
        now: i64,
        window_secs: i64,
    ) -> Result<Taken, StoreError> {
        let rows = sqlx::query(TAKE.as_str())
            .bind(now)
            .bind(window_secs)
            .bind(network.map(|n| n.key.as_slice()))
            .bind(limit(network.map_or(0, |n| n.limit)))
            .bind(account.key.as_slice())
            .bind(limit(account.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let (mut network_window, mut account_window) = (None, None);
        for r in &rows {
            let counter: String = r.try_get("counter").map_err(backend)?;
            match counter.as_str() {
                "network" => network_window = Some(window(r)?),
                _ => account_window = Some(window(r)?),
            }
        }
        match (network_window, account_window) {
            (Some(w), None) if !w.taken => Ok(Taken::NetworkRefused(w)),
            (network, Some(account)) => Ok(Taken::Account { network, account }),
            _ => Err(corrupt("a reservation reached neither counter")),
        }
    }

    async fn end_attempt(
        &self,
        network: Option<&AttemptEnd>,
        account: Option<&AttemptEnd>,
    ) -> Result<(), StoreError> {
        let key = |e: Option<&AttemptEnd>| e.map(|e| e.key.clone());
        let started = |e: Option<&AttemptEnd>| e.map_or(0, |e| e.started);
        let how = |e: Option<&AttemptEnd>| e.map_or("failed", |e| outcome(e.outcome));
        sqlx::query(END.as_str())
            .bind(key(network))
            .bind(started(network))
            .bind(how(network))
            .bind(key(account))
            .bind(started(account))
            .bind(how(account))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn purge_attempt_windows(
        &self,
        started_before: i64,
        batch: u32,
    ) -> Result<u64, StoreError> {
        self.write(move |tx| {
            Box::pin(async move {
                // Rows a reservation holds are skipped (it may be starting a new window in
                // them), and the outer condition is checked again on the row as it is now.
                let done = sqlx::query(
                    "DELETE FROM password_limits WHERE started <= $1 AND key IN \
                     (SELECT key FROM password_limits WHERE started <= $1 LIMIT $2 \
                      FOR UPDATE SKIP LOCKED)",
                )
                .bind(started_before)
                .bind(i64::from(batch))
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
                Ok(done.rows_affected())
            })
        })
        .await
    }
}
