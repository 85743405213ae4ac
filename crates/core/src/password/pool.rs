//! A few threads that do nothing but argon2id, one per core, each with its own working memory.
//!
//! argon2id is the point of a password grant: tens of milliseconds of CPU and 19 MiB of memory
//! bandwidth. More hashes at once than cores only thrash the caches (measured: 2 threads verify
//! 140/s here, 32 threads 93/s), and tokio's blocking pool hands each hash to whichever of its
//! threads is free, with a fresh array each time. Long-lived threads pulling from one queue keep
//! every core busy while grants wait, and reuse their memory.
//!
//! The queue in front of them is bounded: a flood of sign-ins must not make everyone else wait
//! behind it. A full queue refuses at once ([`PoolError::Busy`]), which the server answers with 503
//! and `Retry-After`, instead of queueing seconds of work.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use super::{Decoy, HashMemory, PasswordCheck, PasswordError, PasswordHasher};
use crate::random::Random;
use crate::secret::Secret;

type Job = Box<dyn FnOnce(&PasswordHasher, &mut HashMemory) + Send>;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("cannot start a password hashing thread: {0}")]
    Start(#[source] std::io::Error),
    #[error("the password hashing threads have stopped")]
    Stopped,
    #[error("the password hashing queue is full")]
    Busy,
}

pub struct HashingPool {
    hasher: Arc<PasswordHasher>,
    jobs: mpsc::SyncSender<Job>,
    /// Hashes and verifications actually run (skipped jobs are not counted): what the sign-in
    /// limits bound.
    runs: Arc<AtomicU64>,
}

/// Jobs that may wait per hashing thread, by default: at OWASP's parameters one verification
/// takes 25-35 ms of one core, so eight are a few hundred milliseconds of work.
pub const DEFAULT_QUEUE_PER_THREAD: usize = 8;

impl HashingPool {
    /// Starts `threads` hashing threads (at least one), with room for `queue_per_thread` waiting
    /// jobs per thread. They stop when the pool is dropped.
    pub fn start(
        hasher: Arc<PasswordHasher>,
        threads: usize,
        queue_per_thread: usize,
    ) -> Result<Self, PoolError> {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::sync_channel::<Job>(threads * queue_per_thread.max(1));
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let hasher = hasher.clone();
            std::thread::Builder::new()
                .name(format!("latchkey-argon2-{i}"))
                .spawn(move || {
                    let mut memory = HashMemory::default();
                    loop {
                        // The lock is held only while waiting for the next job, not while hashing.
                        let next = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = next else { return };
                        job(&hasher, &mut memory);
                    }
                })
                .map_err(PoolError::Start)?;
        }
        Ok(HashingPool {
            hasher,
            jobs,
            runs: Arc::default(),
        })
    }

    /// One thread per core.
    pub fn per_core(
        hasher: Arc<PasswordHasher>,
        queue_per_thread: usize,
    ) -> Result<Self, PoolError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::start(hasher, cores, queue_per_thread)
    }

    /// How many hashes and verifications have run so far.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// The hasher, for callers that hash once in a while on their own thread (the CLI).
    pub fn hasher(&self) -> &Arc<PasswordHasher> {
        &self.hasher
    }

    /// [`PasswordHasher::verify`] on a hashing thread.
    pub async fn verify(
        &self,
        password: Secret,
        stored: Option<String>,
    ) -> Result<PasswordCheck, PoolError> {
        self.run(move |hasher, memory| hasher.verify(password.expose(), stored.as_deref(), memory))
            .await
    }

    /// [`PasswordHasher::verify_decoy`] on a hashing thread.
    pub async fn decoy(&self, password: Secret, decoy: Decoy) -> Result<PasswordCheck, PoolError> {
        self.run(move |hasher, memory| hasher.verify_decoy(password.expose(), decoy, memory))
            .await
    }

    /// [`PasswordHasher::hash`] on a hashing thread.
    pub async fn hash(
        &self,
        password: Secret,
        random: Arc<dyn Random>,
    ) -> Result<Result<String, PasswordError>, PoolError> {
        self.run(move |hasher, _| hasher.hash(password.expose(), random.as_ref()))
            .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PasswordHasher, &mut HashMemory) -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let runs = self.runs.clone();
        let job: Job = Box::new(move |hasher, memory| {
            // Nobody waits for a grant whose request went away: skip its hash.
            if !reply.is_closed() {
                runs.fetch_add(1, Ordering::Relaxed);
                let _ = reply.send(work(hasher, memory));
            }
        });
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => PoolError::Busy,
            mpsc::TrySendError::Disconnected(_) => PoolError::Stopped,
        })?;
        answer.await.map_err(|_| PoolError::Stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::PasswordParams;
    use crate::random::OsRandom;

    fn pool(threads: usize) -> HashingPool {
        let params = PasswordParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        let hasher = Arc::new(PasswordHasher::new(params, &OsRandom).unwrap());
        HashingPool::start(hasher, threads, 64).unwrap()
    }

    #[tokio::test]
    async fn many_concurrent_verifications_each_get_their_own_answer() {
        let pool = Arc::new(pool(2));
        let stored = pool.hasher().hash("right", &OsRandom).unwrap();
        let mut tasks = Vec::new();
        for i in 0..24 {
            let (pool, stored) = (pool.clone(), stored.clone());
            tasks.push(tokio::spawn(async move {
                let guess = if i % 3 == 0 { "right" } else { "wrong" };
                let check = pool.verify(Secret::new(guess), Some(stored)).await.unwrap();
                (i, check)
            }));
        }
        for task in tasks {
            let (i, check) = task.await.unwrap();
            let expected = if i % 3 == 0 {
                PasswordCheck::Match { upgrade: false }
            } else {
                PasswordCheck::Mismatch
            };
            assert_eq!(check, expected, "request {i}");
        }
    }

    /// A full queue answers at once instead of queueing: with one thread held busy and a queue of
    /// one, the third request is refused while the first two are still waiting.
    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let params = PasswordParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        let hasher = Arc::new(PasswordHasher::new(params, &OsRandom).unwrap());
        let pool = Arc::new(HashingPool::start(hasher, 1, 1).unwrap());
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, running) = std::sync::mpsc::channel::<()>();
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move |_, _| {
                    let _ = started.send(());
                    held.recv().is_ok()
                })
                .await
            })
        };
        // The thread is busy once the job has started; then one waiting job fills the queue.
        while running.try_recv().is_err() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(pool.jobs.try_send(Box::new(|_, _| {})).is_ok());
        let refused = pool.verify(Secret::new("pw"), None).await;
        assert!(matches!(refused, Err(PoolError::Busy)), "{refused:?}");
        release.send(()).unwrap();
        assert!(busy.await.unwrap().unwrap());
    }

    #[tokio::test]
    async fn hashes_made_on_the_pool_verify() {
        let pool = pool(1);
        let stored = pool
            .hash(Secret::new("pw"), Arc::new(OsRandom))
            .await
            .unwrap()
            .unwrap();
        let check = pool.verify(Secret::new("pw"), Some(stored)).await;
        assert_eq!(check.unwrap(), PasswordCheck::Match { upgrade: false });
    }
}
