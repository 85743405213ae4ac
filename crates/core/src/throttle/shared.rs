//! The counters in the database every node shares ([`AttemptStore`]), so that any number of nodes
//! together allow each limit once: one statement takes an attempt from the network's and the
//! account's windows (and says whether either is full), one more ends it.
//!
//! The rules are the in-process counters' (`local.rs`), but for one thing: an attempt counts in
//! the window it was taken in, and is not carried into the next one when that window ends while
//! the password is being checked. A node that dies mid-check never ends its attempts; carried
//! from window to window they would hold the account's counter up for ever, while here they are
//! forgotten with their window. Each window still lets at most its limit through to the hash.
//!
//! Both statements run detached from the request, so that a client that goes away cannot cancel
//! one halfway: a reservation it no longer waits for is ended as a failure, as in process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{AccountKey, Network, Outcome, Refusal, ThrottleError, ThrottleSettings};
use crate::store::{AttemptEnd, AttemptLimit, AttemptStore, AttemptWindow, StoreError, Taken};

pub(super) struct Counters {
    store: Arc<dyn AttemptStore>,
    settings: ThrottleSettings,
    /// Networks this node saw refused as locked out, and when their windows end, so that a
    /// locked-out network's flood costs no round trip. Exact while it lasts: nothing but the
    /// window's end unlocks a network (a success gives back only its own attempt).
    locked: Mutex<HashMap<Network, i64>>,
}

impl Counters {
    pub(super) fn new(settings: ThrottleSettings, store: Arc<dyn AttemptStore>) -> Self {
        Counters {
            store,
            settings,
            locked: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds left of the network's lockout, if this node saw it locked out.
    pub(super) fn network_locked(&self, network: &Network, now: i64) -> Option<i64> {
        let locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        let ends = *locked.get(network)?;
        (now < ends).then_some(ends - now)
    }

    pub(super) async fn reserve(
        &self,
        account: AccountKey,
        network: Option<Network>,
        now: i64,
    ) -> Result<Reserved, ThrottleError> {
        let store = self.store.clone();
        let taken = tokio::spawn(take(store, self.settings, account, network, now))
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        match taken {
            Ok(reserved) => Ok(reserved),
            Err(NotTaken::Network(refusal)) => {
                if let (Refusal::Locked { retry_after }, Some(network)) = (refusal, network) {
                    self.remember_locked(network, now, now + retry_after);
                }
                Err(ThrottleError::Refused(refusal))
            }
            Err(NotTaken::Account(refusal)) => Err(ThrottleError::Refused(refusal)),
            Err(NotTaken::Store(e)) => Err(e.into()),
        }
    }

    /// Removes windows that started at or before `started_before` from the database, and this
    /// node's memory of lockouts that have ended by `now`.
    pub(super) async fn purge_ended(
        &self,
        started_before: i64,
        now: i64,
        batch: u32,
    ) -> Result<u64, StoreError> {
        self.locked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, ends| now < *ends);
        self.store
            .purge_attempt_windows(started_before, batch)
            .await
    }

    /// Bounded as the in-process tables are: when full of live lockouts it stops remembering,
    /// and the database, which stays the authority, goes on refusing.
    fn remember_locked(&self, network: Network, now: i64, ends: i64) {
        let mut locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        if locked.len() >= self.settings.max_tracked {
            locked.retain(|_, ends| now < *ends);
        }
        if locked.len() < self.settings.max_tracked {
            locked.insert(network, ends);
        }
    }
}

/// Why [`take`] took no attempt: the network's counter or the account's refused, or the database
/// failed.
enum NotTaken {
    Network(Refusal),
    Account(Refusal),
    Store(StoreError),
}

impl From<StoreError> for NotTaken {
    fn from(e: StoreError) -> Self {
        NotTaken::Store(e)
    }
}

/// The body of [`Counters::reserve`], run as a task of its own: what it returns is dropped, and
/// so ended as a failure, if the request went away meanwhile.
async fn take(
    store: Arc<dyn AttemptStore>,
    s: ThrottleSettings,
    account: AccountKey,
    network: Option<Network>,
    now: i64,
) -> Result<Reserved, NotTaken> {
    let account = AttemptLimit {
        key: account.counter_key(),
        limit: s.account_failures,
    };
    let network = network.map(|n| AttemptLimit {
        key: n.counter_key(),
        limit: s.ip_failures,
    });
    let refused = |w: &AttemptWindow, limit: u32| {
        let finished = w.attempts.saturating_sub(w.in_flight);
        Refusal::of_full(finished, limit, w.started + s.window_secs, now)
    };
    match store
        .take_attempt(network.as_ref(), &account, now, s.window_secs)
        .await?
    {
        Taken::NetworkRefused(w) => Err(NotTaken::Network(refused(&w, s.ip_failures))),
        Taken::Account {
            network: network_window,
            account: w,
        } if !w.taken => {
            // Refused for the account: the network's attempt never reached a password.
            if let (Some(n), Some(nw)) = (network, network_window) {
                let back = AttemptEnd {
                    key: n.key,
                    started: nw.started,
                    outcome: Outcome::GivenBack,
                };
                store.end_attempt(Some(&back), None).await?;
            }
            Err(NotTaken::Account(refused(&w, s.account_failures)))
        }
        Taken::Account {
            network: network_window,
            account: w,
        } => Ok(Reserved {
            store,
            account: (account.key, w.started),
            network: network.zip(network_window).map(|(n, w)| (n.key, w.started)),
            ended: false,
        }),
    }
}

/// A reserved attempt: each counter's key and the window it was taken in. Ended as failed when
/// dropped unless [`Reserved::end`] ended it.
pub(super) struct Reserved {
    store: Arc<dyn AttemptStore>,
    account: (Vec<u8>, i64),
    network: Option<(Vec<u8>, i64)>,
    ended: bool,
}

impl Reserved {
    pub(super) async fn end(mut self, account: Outcome, network: Outcome) {
        self.ended = true;
        // Detached, as the reservation was: a request that goes away meanwhile still ends it.
        let ending = tokio::spawn(self.ending(account, network));
        if ending.await.is_err() {
            tracing::warn!("ending a sign-in attempt's reservation panicked");
        }
    }

    /// The statement that ends this attempt in both counters. A failure is only logged: the
    /// attempt stays in flight until its window ends, which refuses the account a little early
    /// (as busy) but never lets a guess through.
    fn ending(
        &self,
        account: Outcome,
        network: Outcome,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let store = self.store.clone();
        let end = |(key, started): &(Vec<u8>, i64), outcome| AttemptEnd {
            key: key.clone(),
            started: *started,
            outcome,
        };
        let account = end(&self.account, account);
        let network = self.network.as_ref().map(|n| end(n, network));
        async move {
            if let Err(e) = store.end_attempt(network.as_ref(), Some(&account)).await {
                tracing::warn!(error = %e, "could not end a sign-in attempt's reservation");
            }
        }
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        // A request that went away: its attempt stays counted, as a failure.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(self.ending(Outcome::Failed, Outcome::Failed));
            }
            Err(_) => tracing::warn!("a sign-in attempt was dropped outside the runtime"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use async_trait::async_trait;

    use super::*;
    use crate::throttle::{Counting, Throttle};
    use crate::user::UserId;

    /// A database whose counters refuse every attempt: the network's or the account's, from a
    /// window that started at 0 holding five attempts, `in_flight` of them still in flight.
    struct Refusing {
        network: bool,
        in_flight: u32,
    }

    #[async_trait]
    impl AttemptStore for Refusing {
        async fn take_attempt(
            &self,
            network: Option<&AttemptLimit>,
            _: &AttemptLimit,
            _: i64,
            _: i64,
        ) -> Result<Taken, StoreError> {
            let full = AttemptWindow {
                taken: false,
                started: 0,
                attempts: 5,
                in_flight: self.in_flight,
            };
            Ok(match network {
                Some(_) if self.network => Taken::NetworkRefused(full),
                _ => Taken::Account {
                    network: None,
                    account: full,
                },
            })
        }

        async fn end_attempt(
            &self,
            _: Option<&AttemptEnd>,
            _: Option<&AttemptEnd>,
        ) -> Result<(), StoreError> {
            Ok(())
        }

        async fn purge_attempt_windows(&self, _: i64, _: u32) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    fn throttle(store: Refusing) -> Throttle {
        let settings = ThrottleSettings {
            account_failures: 5,
            ip_failures: 5,
            window_secs: 60,
            ..ThrottleSettings::default()
        };
        Throttle::new(settings, Counting::Shared(Arc::new(store)))
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));

    async fn refusal(t: &Throttle, now: i64) -> Option<Refusal> {
        match t.reserve(AccountKey::User(UserId(1)), IP, now).await {
            Err(ThrottleError::Refused(r)) => Some(r),
            _ => None,
        }
    }

    /// A network the database refused as locked out is refused by this node before any look-up
    /// until its window ends; nothing else is remembered.
    #[tokio::test]
    async fn a_network_seen_locked_out_is_refused_at_once_until_its_window_ends() {
        let t = throttle(Refusing {
            network: true,
            in_flight: 0,
        });
        assert_eq!(t.network_locked(IP, 10), None);
        let locked = Refusal::Locked { retry_after: 50 };
        assert_eq!(refusal(&t, 10).await, Some(locked));
        assert_eq!(
            t.network_locked(IP, 20),
            Some(Refusal::Locked { retry_after: 40 })
        );
        assert_eq!(t.network_locked(IP, 60), None, "the window ended");

        let busy = throttle(Refusing {
            network: true,
            in_flight: 1,
        });
        assert_eq!(refusal(&busy, 10).await, Some(Refusal::Busy));
        assert_eq!(busy.network_locked(IP, 10), None, "busy is not locked");

        let account = throttle(Refusing {
            network: false,
            in_flight: 0,
        });
        assert_eq!(refusal(&account, 10).await, Some(locked));
        assert_eq!(
            account.network_locked(IP, 10),
            None,
            "the account's lockout"
        );
    }
}
