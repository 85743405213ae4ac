//! The counters in this process, for one node: a window per key in a bounded table.
//!
//! On several nodes each node would count on its own, which bounds an attacker to
//! `nodes × limit` guesses per window: several nodes count in their shared database instead
//! (`shared.rs`).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use super::{AccountKey, Network, Outcome, Refusal, ThrottleSettings};

pub(super) struct Counters {
    accounts: Counter<AccountKey>,
    networks: Counter<Network>,
}

impl Counters {
    pub(super) fn new(settings: ThrottleSettings) -> Self {
        let window = settings.window_secs;
        Counters {
            accounts: Counter::new(settings.account_failures, window, settings.max_tracked),
            networks: Counter::new(settings.ip_failures, window, settings.max_tracked),
        }
    }

    /// Seconds left of the network's lockout, if it is locked out.
    pub(super) fn network_locked(&self, network: &Network, now: i64) -> Option<i64> {
        self.networks.locked_for(network, now)
    }

    /// Reserves one attempt against the network, then the account.
    pub(super) fn reserve(
        &self,
        account: AccountKey,
        network: Option<Network>,
        now: i64,
    ) -> Result<Reserved<'_>, Refusal> {
        if let Some(network) = &network {
            self.networks.reserve(network, now)?;
        }
        if let Err(refusal) = self.accounts.reserve(&account, now) {
            // Refused for the account: the network's attempt never reached a password.
            if let Some(network) = &network {
                self.networks.settle(network, Outcome::GivenBack);
            }
            return Err(refusal);
        }
        Ok(Reserved {
            counters: self,
            account,
            network,
            ended: false,
        })
    }
}

/// A reserved attempt; ended as failed when dropped unless [`Reserved::end`] ended it.
pub(super) struct Reserved<'a> {
    counters: &'a Counters,
    account: AccountKey,
    network: Option<Network>,
    ended: bool,
}

impl Reserved<'_> {
    pub(super) fn end(mut self, account: Outcome, network: Outcome) {
        self.settle(account, network);
    }

    fn settle(&mut self, account: Outcome, network: Outcome) {
        self.ended = true;
        self.counters.accounts.settle(&self.account, account);
        if let Some(n) = &self.network {
            self.counters.networks.settle(n, network);
        }
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.settle(Outcome::Failed, Outcome::Failed);
        }
    }
}

#[derive(Clone, Copy)]
struct Window {
    started: i64,
    /// Attempts that count in this window: finished failures and those still in flight.
    attempts: u32,
    /// Of those, the ones still being checked: they may yet succeed and be given back.
    in_flight: u32,
}

impl Window {
    fn new(started: i64, in_flight: u32) -> Self {
        Window {
            started,
            attempts: in_flight,
            in_flight,
        }
    }
}

struct Counter<K> {
    limit: u32,
    window: i64,
    max_tracked: usize,
    windows: Mutex<HashMap<K, Window>>,
}

impl<K: Eq + Hash + Clone> Counter<K> {
    fn new(limit: u32, window: i64, max_tracked: usize) -> Self {
        Counter {
            limit,
            window,
            max_tracked: max_tracked.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one attempt for `key`, unless its window is full ([`Refusal::of_full`]).
    fn reserve(&self, key: &K, now: i64) -> Result<(), Refusal> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if !windows.contains_key(key) && windows.len() >= self.max_tracked {
            self.make_room(&mut windows, now);
        }
        let w = windows.entry(key.clone()).or_insert(Window::new(now, 0));
        if now >= w.started + self.window {
            // Attempts still in flight belong to whichever window they end in.
            *w = Window::new(now, w.in_flight);
        }
        if w.attempts >= self.limit {
            let ends = w.started + self.window;
            return Err(Refusal::of_full(
                w.attempts - w.in_flight,
                self.limit,
                ends,
                now,
            ));
        }
        w.attempts += 1;
        w.in_flight += 1;
        Ok(())
    }

    /// Seconds left of `key`'s lockout, when its finished failures alone fill its window.
    fn locked_for(&self, key: &K, now: i64) -> Option<i64> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let w = windows.get(key)?;
        let ends = w.started + self.window;
        (now < ends && w.attempts - w.in_flight >= self.limit).then_some(ends - now)
    }

    fn settle(&self, key: &K, outcome: Outcome) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let Some(w) = windows.get_mut(key) else {
            return;
        };
        w.in_flight = w.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Failed => {}
            Outcome::GivenBack => w.attempts = w.attempts.saturating_sub(1),
            Outcome::Forgiven => w.attempts = w.in_flight,
        }
    }

    /// Ended windows go first, then the oldest keys that are neither locked out nor being checked:
    /// a full table must not unlock anyone. Only a table of nothing but those gives up its oldest,
    /// since memory must stay bounded whatever an attacker sends. A tenth is freed at once, so that
    /// the sort is paid once per many insertions.
    fn make_room(&self, windows: &mut HashMap<K, Window>, now: i64) {
        windows.retain(|_, w| now < w.started + self.window || w.in_flight > 0);
        let target = self.max_tracked - self.max_tracked / 10 - 1;
        if windows.len() <= target {
            return;
        }
        let mut by_age: Vec<(bool, i64, K)> = windows
            .iter()
            .map(|(k, w)| {
                let keep = w.attempts >= self.limit || w.in_flight > 0;
                (keep, w.started, k.clone())
            })
            .collect();
        // Unlocked before locked, oldest first within each.
        by_age.sort_unstable_by_key(|(keep, started, _)| (*keep, *started));
        let excess = windows.len() - target;
        if by_age.get(excess - 1).is_some_and(|(keep, _, _)| *keep) {
            tracing::warn!(
                tracked = windows.len(),
                "sign-in throttle is full of lockouts; forgetting the oldest"
            );
        }
        for (_, _, key) in by_age.into_iter().take(excess) {
            windows.remove(&key);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.windows.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::secret::SecretHasher;
    use crate::user::UserId;

    fn throttle() -> Counters {
        Counters::new(ThrottleSettings {
            account_failures: 3,
            ip_failures: 5,
            window_secs: 60,
            ip_in_flight: 2,
            max_tracked: 100,
        })
    }

    fn unknown(login: &str) -> AccountKey {
        AccountKey::unknown(&SecretHasher::new(&[5; 32]), login)
    }

    fn ip(s: &str) -> Option<Network> {
        Some(Network::from(s.parse::<IpAddr>().unwrap()))
    }

    /// As the sign-in ends an attempt whose password matched.
    fn succeeded(r: Reserved<'_>) {
        r.end(Outcome::Forgiven, Outcome::GivenBack);
    }

    /// As the sign-in ends an attempt whose password was never checked.
    fn unchecked(r: Reserved<'_>) {
        r.end(Outcome::GivenBack, Outcome::GivenBack);
    }

    #[test]
    fn an_account_is_blocked_after_its_limit_until_the_window_ends() {
        let t = throttle();
        for _ in 0..3 {
            drop(t.reserve(unknown("Alice"), None, 100).unwrap());
        }
        let refused = t.reserve(unknown("alice "), None, 110).err();
        assert_eq!(refused, Some(Refusal::Locked { retry_after: 50 }));
        assert!(t.reserve(unknown("bob"), None, 110).is_ok());
        assert!(t.reserve(unknown("alice"), None, 160).is_ok());
    }

    /// Reservations are taken before any password is checked, so attempts that are all in flight
    /// at once still count: the fourth is refused while none of the first three has finished.
    #[test]
    fn attempts_in_flight_count_against_the_limit() {
        let t = throttle();
        let held: Vec<_> = (0..3)
            .map(|_| t.reserve(AccountKey::User(UserId(7)), None, 0).unwrap())
            .collect();
        assert!(t.reserve(AccountKey::User(UserId(7)), None, 0).is_err());
        drop(held);
    }

    #[test]
    fn many_threads_together_never_pass_the_limit() {
        let t = throttle();
        let passed = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    for _ in 0..10 {
                        if let Ok(attempt) = t.reserve(AccountKey::User(UserId(1)), None, 0) {
                            passed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            drop(attempt);
                        }
                    }
                });
            }
        });
        assert_eq!(passed.into_inner(), 3);
    }

    #[test]
    fn a_network_is_blocked_across_accounts_and_success_gives_back_only_its_own_attempt() {
        let t = throttle();
        for i in 0..4 {
            drop(t.reserve(unknown(&format!("u{i}")), ip("10.0.0.1"), 0));
        }
        succeeded(t.reserve(unknown("carol"), ip("10.0.0.1"), 0).unwrap());
        // Four failures stand; the success took nothing away from them.
        drop(t.reserve(unknown("dave"), ip("10.0.0.1"), 0).unwrap());
        let refused = t.reserve(unknown("erin"), ip("10.0.0.1"), 1).err();
        assert_eq!(refused, Some(Refusal::Locked { retry_after: 59 }));
        assert!(t.reserve(unknown("erin"), None, 1).is_ok());
    }

    #[test]
    fn success_forgives_the_account() {
        let t = throttle();
        for _ in 0..2 {
            drop(t.reserve(AccountKey::User(UserId(3)), None, 0).unwrap());
        }
        succeeded(t.reserve(AccountKey::User(UserId(3)), None, 0).unwrap());
        for _ in 0..3 {
            drop(t.reserve(AccountKey::User(UserId(3)), None, 0).unwrap());
        }
    }

    #[test]
    fn an_account_refusal_does_not_use_up_the_networks_attempts() {
        let t = throttle();
        for _ in 0..3 {
            drop(t.reserve(unknown("x"), ip("10.0.0.2"), 0).unwrap());
        }
        for _ in 0..10 {
            assert!(t.reserve(unknown("x"), ip("10.0.0.2"), 0).is_err());
        }
        // 3 of the network's 5 are used: two more accounts may still try.
        drop(t.reserve(unknown("y"), ip("10.0.0.2"), 0).unwrap());
        drop(t.reserve(unknown("z"), ip("10.0.0.2"), 0).unwrap());
        assert!(t.reserve(unknown("w"), ip("10.0.0.2"), 0).is_err());
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let t = throttle();
        for i in 0..5 {
            let addr = format!("2001:db8:1:2::{i:x}");
            drop(t.reserve(unknown(&format!("u{i}")), ip(&addr), 0));
        }
        let next = t.reserve(unknown("v"), ip("2001:db8:1:2:ffff::1"), 0);
        assert!(next.is_err());
        assert!(t.reserve(unknown("v"), ip("2001:db8:1:3::1"), 0).is_ok());
        assert_eq!(
            Network::from("::ffff:10.1.2.3".parse::<IpAddr>().unwrap()),
            Network::from("10.1.2.3".parse::<IpAddr>().unwrap())
        );
    }

    /// More sign-ins of one account at once than its limit, all with the right password: the
    /// ones past the limit are asked to retry in a moment (not locked out for the window), and
    /// once the others have succeeded the account is open again.
    #[test]
    fn attempts_still_in_flight_make_a_short_refusal_not_a_lockout() {
        let t = throttle();
        let held: Vec<_> = (0..3)
            .map(|_| t.reserve(AccountKey::User(UserId(8)), None, 0).unwrap())
            .collect();
        let refused = t.reserve(AccountKey::User(UserId(8)), None, 0).err();
        assert_eq!(refused, Some(Refusal::Busy));
        held.into_iter().for_each(succeeded);
        for _ in 0..3 {
            drop(t.reserve(AccountKey::User(UserId(8)), None, 0).unwrap());
        }
        let refused = t.reserve(AccountKey::User(UserId(8)), None, 0).err();
        assert_eq!(refused, Some(Refusal::Locked { retry_after: 60 }));
    }

    #[test]
    fn an_unchecked_attempt_is_given_back_without_forgiving_failures() {
        let t = throttle();
        for _ in 0..2 {
            drop(t.reserve(AccountKey::User(UserId(4)), None, 0).unwrap());
        }
        unchecked(t.reserve(AccountKey::User(UserId(4)), None, 0).unwrap());
        // Two failures stand: one more attempt, then the lock.
        drop(t.reserve(AccountKey::User(UserId(4)), None, 0).unwrap());
        assert!(t.reserve(AccountKey::User(UserId(4)), None, 0).is_err());
    }

    #[test]
    fn a_locked_network_is_seen_before_any_reservation() {
        let t = throttle();
        assert_eq!(t.network_locked(&ip("10.0.0.3").unwrap(), 0), None);
        for i in 0..5 {
            drop(
                t.reserve(unknown(&format!("u{i}")), ip("10.0.0.3"), 0)
                    .unwrap(),
            );
        }
        assert_eq!(t.network_locked(&ip("10.0.0.3").unwrap(), 10), Some(50));
        assert_eq!(
            t.network_locked(&ip("10.0.0.3").unwrap(), 60),
            None,
            "the window ended"
        );
    }

    #[test]
    fn a_full_table_keeps_its_lockouts() {
        let t = throttle();
        // One locked account, then enough other keys to fill the table many times over.
        for _ in 0..3 {
            drop(t.reserve(unknown("victim"), None, 0).unwrap());
        }
        for i in 0..1000 {
            drop(t.reserve(unknown(&format!("k{i}")), None, 1));
            assert!(t.accounts.tracked() <= 100);
        }
        assert!(t.reserve(unknown("victim"), None, 2).is_err());
    }
}
