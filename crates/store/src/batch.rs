//! Group commit: writes that many requests make at once are done by one task, a batch at a time,
//! instead of one transaction per request: opaque access tokens (one multi-row `INSERT` per
//! batch) and code redemptions (one transaction per batch, each redemption with its own
//! compare-and-swap and answer). The reads on every request's path are batched the same way, on
//! both backends (`lookup.rs`).
//!
//! Why: on SQLite each statement otherwise costs a hand-off to sqlx's worker thread and back, and
//! each transaction a commit, while the other writers wait for their turn (BENCHMARKS.md: 23 ms p99
//! at 32 connections before the batches); on PostgreSQL each commit is a WAL flush. The writer takes
//! whatever is queued when it gets its turn, so a lone request waits for nobody and a burst shares
//! one round trip. Every caller still returns only after its write is committed.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use latchkey_core::store::StoreError;
use tokio::sync::{mpsc, oneshot};

/// Rows per statement, at most: 100 rows of 9 columns stay under SQLite's oldest limit of 999
/// bound parameters.
pub(crate) const MAX_BATCH: usize = 100;

/// The statement that inserts a batch of opaque access-token rows on a backend that has one of its
/// own, instead of the `VALUES` list both share (`postgres.rs` says why).
pub(crate) type AccessRows<Db> =
    for<'a> fn(
        &'a [latchkey_core::store::AccessTokenRow],
    ) -> sqlx::query::Query<'a, Db, <Db as sqlx::Database>::Arguments<'a>>;

/// The statement that writes a batch of code redemptions whole, on a backend that has one; it
/// answers with a row per family that took its code, the family's id first.
pub(crate) type RedeemRows<Db> =
    for<'a> fn(
        &'a [crate::store::Redemption],
    ) -> sqlx::query::Query<'a, Db, <Db as sqlx::Database>::Arguments<'a>>;

/// Runs one batch and answers for each item, in order (`R`: what a caller learns besides success,
/// such as whether its compare-and-swap won, or the row it read).
pub(crate) type RunBatch<T, R = ()> = Arc<
    dyn Fn(Vec<T>) -> Pin<Box<dyn Future<Output = Vec<Result<R, StoreError>>> + Send>>
        + Send
        + Sync,
>;

type Pending<T, R> = (T, oneshot::Sender<Result<R, StoreError>>);

pub(crate) struct Batcher<T, R = ()> {
    run: RunBatch<T, R>,
    /// Started on first use, so the store can be built outside a runtime.
    queue: OnceLock<mpsc::UnboundedSender<Pending<T, R>>>,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// A batcher that runs one batch at a time: on SQLite writers take turns anyway, and on
    /// PostgreSQL what queues behind a batch's commit (its WAL flush) joins the next one, which
    /// costs the database less than batches written in parallel
    /// (docs/design/authorization-code.md); a read waits for the batch in flight at most.
    pub(crate) fn new(run: RunBatch<T, R>) -> Self {
        Batcher {
            run,
            queue: OnceLock::new(),
        }
    }

    /// Queues `item` and waits until the batch that carries it is committed or read (or has
    /// failed).
    pub(crate) async fn submit(&self, item: T) -> Result<R, StoreError> {
        let queue = self.queue.get_or_init(|| {
            let (queue, rows) = mpsc::unbounded_channel();
            tokio::spawn(worker(rows, self.run.clone()));
            queue
        });
        let (done, answer) = oneshot::channel();
        queue.send((item, done)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Runs until every sender (the store and its clones) is gone, one batch at a time; what arrives
/// while a batch is out joins the next. Each batch runs in a task of its own, which no caller can
/// cancel halfway, and whose panic fails only that batch's callers: the worker, and every later
/// batch, go on.
async fn worker<T: Send + 'static, R: Send + 'static>(
    mut rows: mpsc::UnboundedReceiver<Pending<T, R>>,
    run: RunBatch<T, R>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rows.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (items, waiting): (Vec<T>, Vec<_>) = batch.drain(..).unzip();
        let run = run.clone();
        match tokio::spawn(async move { run(items).await }).await {
            Ok(results) => {
                for (done, result) in waiting.into_iter().zip(results) {
                    let _ = done.send(result);
                }
            }
            Err(_) => {
                for done in waiting {
                    let _ = done.send(Err(StoreError::Backend("the batch failed".into())));
                }
            }
        }
    }
}

/// Every item's answer when a batch failed because the database did not answer, or `None` when it
/// failed otherwise and each item is worth trying alone: alone, each would wait for a connection
/// again, one after another, while every caller behind them waits too.
pub(crate) fn all_unavailable<R>(
    items: usize,
    e: &StoreError,
) -> Option<Vec<Result<R, StoreError>>> {
    let StoreError::Unavailable(why) = e else {
        return None;
    };
    let why = why.to_string();
    Some(
        (0..items)
            .map(|_| Err(StoreError::Unavailable(why.clone().into())))
            .collect(),
    )
}

fn stopped() -> StoreError {
    StoreError::Backend("the batch worker has stopped".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn concurrent_inserts_share_batches_and_each_gets_its_own_answer() {
        let batches = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let seen = batches.clone();
        let write: RunBatch<u32> = Arc::new(move |rows: Vec<u32>| {
            seen.lock().unwrap().push(rows.clone());
            Box::pin(async move {
                tokio::task::yield_now().await;
                rows.iter()
                    .map(|&r| {
                        if r == 13 {
                            Err(StoreError::Corrupt("13".into()))
                        } else {
                            Ok(())
                        }
                    })
                    .collect()
            })
        });
        let batcher = Arc::new(Batcher::new(write));
        let tasks: Vec<_> = (0..250u32)
            .map(|i| {
                let b = batcher.clone();
                tokio::spawn(async move { (i, b.submit(i).await) })
            })
            .collect();
        for t in tasks {
            let (i, result) = t.await.unwrap();
            assert_eq!(result.is_err(), i == 13, "row {i}");
        }
        let batches = batches.lock().unwrap();
        let mut all: Vec<u32> = batches.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..250).collect::<Vec<_>>(),
            "every row written exactly once"
        );
        assert!(batches.iter().all(|b| b.len() <= MAX_BATCH));
        assert!(batches.len() < 250, "some rows shared a batch");
    }

    #[tokio::test]
    async fn a_batch_that_panics_fails_alone_and_the_writer_goes_on() {
        let write: RunBatch<u32> = Arc::new(|rows: Vec<u32>| {
            Box::pin(async move {
                assert!(!rows.contains(&13), "a write that panics");
                rows.iter().map(|_| Ok(())).collect()
            })
        });
        let batcher = Batcher::new(write);
        assert!(batcher.submit(13).await.is_err(), "its caller is told");
        for i in 0..3u32 {
            assert!(batcher.submit(i).await.is_ok(), "row {i} after the panic");
        }
    }
}
