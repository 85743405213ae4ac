//! Group commit: rows that many requests insert at once are written by one task, as one
//! multi-row `INSERT` per batch, instead of one statement and one commit per request.
//!
//! Why: an opaque access token is one row, and on SQLite each insert otherwise costs a hand-off
//! to sqlx's worker thread and back plus a commit, while the other writers sleep in SQLite's busy
//! handler (BENCHMARKS.md: 23 ms p99 at 32 connections). The writer takes whatever is queued when
//! it gets its turn, so a lone request waits for nobody and a burst shares one round trip.
//! Every caller still returns only after its row is committed.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use latchkey_core::store::StoreError;
use tokio::sync::{mpsc, oneshot};

/// Rows per statement, at most: 100 rows of 9 columns stay under SQLite's oldest limit of 999
/// bound parameters.
pub(crate) const MAX_BATCH: usize = 100;

/// Writes one batch and answers for each row, in order.
pub(crate) type WriteBatch<T> = Arc<
    dyn Fn(Vec<T>) -> Pin<Box<dyn Future<Output = Vec<Result<(), StoreError>>> + Send>>
        + Send
        + Sync,
>;

type Pending<T> = (T, oneshot::Sender<Result<(), StoreError>>);

pub(crate) struct Batcher<T> {
    write: WriteBatch<T>,
    /// Started on first use, so the store can be built outside a runtime.
    queue: OnceLock<mpsc::UnboundedSender<Pending<T>>>,
}

impl<T: Send + 'static> Batcher<T> {
    pub(crate) fn new(write: WriteBatch<T>) -> Self {
        Batcher {
            write,
            queue: OnceLock::new(),
        }
    }

    /// Queues `row` and waits until the batch that carries it is committed (or has failed).
    pub(crate) async fn insert(&self, row: T) -> Result<(), StoreError> {
        let queue = self.queue.get_or_init(|| {
            let (queue, rows) = mpsc::unbounded_channel();
            tokio::spawn(writer(rows, self.write.clone()));
            queue
        });
        let (done, answer) = oneshot::channel();
        queue.send((row, done)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Runs until every sender (the store and its clones) is gone.
async fn writer<T>(mut rows: mpsc::UnboundedReceiver<Pending<T>>, write: WriteBatch<T>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rows.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (items, waiting): (Vec<T>, Vec<_>) = batch.drain(..).unzip();
        let results = write(items).await;
        for (done, result) in waiting.into_iter().zip(results) {
            let _ = done.send(result);
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Backend("the batch writer has stopped".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn concurrent_inserts_share_batches_and_each_gets_its_own_answer() {
        let batches = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let seen = batches.clone();
        let write: WriteBatch<u32> = Arc::new(move |rows: Vec<u32>| {
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
                tokio::spawn(async move { (i, b.insert(i).await) })
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
}
