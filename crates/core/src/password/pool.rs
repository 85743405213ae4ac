//! A few threads that do nothing but argon2id, one per core, each with its own working memory.
//!
//! argon2id is the point of a password grant: tens of milliseconds of CPU and 19 MiB of memory
//! bandwidth. More hashes at once than cores only thrash the caches (measured: 2 threads verify
//! 140/s here, 32 threads 93/s), and tokio's blocking pool hands each hash to whichever of its
//! threads is free, with a fresh array each time. Long-lived threads pulling from one queue keep
//! every core busy while grants wait, and reuse their memory.

use std::sync::{mpsc, Arc, Mutex};

use super::{HashMemory, PasswordCheck, PasswordError, PasswordHasher};
use crate::random::Random;
use crate::secret::Secret;

type Job = Box<dyn FnOnce(&PasswordHasher, &mut HashMemory) + Send>;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("cannot start a password hashing thread: {0}")]
    Start(#[source] std::io::Error),
    #[error("the password hashing threads have stopped")]
    Stopped,
}

pub struct HashingPool {
    hasher: Arc<PasswordHasher>,
    jobs: mpsc::Sender<Job>,
}

impl HashingPool {
    /// Starts `threads` hashing threads (at least one). They stop when the pool is dropped.
    pub fn start(hasher: Arc<PasswordHasher>, threads: usize) -> Result<Self, PoolError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
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
        Ok(HashingPool { hasher, jobs })
    }

    /// One thread per core.
    pub fn per_core(hasher: Arc<PasswordHasher>) -> Result<Self, PoolError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::start(hasher, cores)
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
        let job: Job = Box::new(move |hasher, memory| {
            // Nobody waits for a grant whose request went away: skip its hash.
            if !reply.is_closed() {
                let _ = reply.send(work(hasher, memory));
            }
        });
        self.jobs.send(job).map_err(|_| PoolError::Stopped)?;
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
        HashingPool::start(hasher, threads).unwrap()
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
