//! Brute-force protection for password sign-in: a fixed window of attempts per account and per
//! client network, and a cap on one network's sign-ins in flight.
//!
//! An attempt is *reserved* before the password is checked and given back only if it succeeds, so
//! requests already in flight count: sixty parallel guesses against a limit of ten reach the
//! password hash ten times, not sixty. Over either limit, attempts are refused without checking the
//! password (so the refusal costs nothing) until the window ends.
//!
//! The counters live in this process. On several nodes each node counts on its own, which bounds an
//! attacker to `nodes × limit` guesses per window.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::secret::{SecretHasher, TokenHash};
use crate::user::UserId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleSettings {
    pub account_failures: u32,
    pub ip_failures: u32,
    pub window_secs: i64,
    /// Password sign-ins one client network may have in flight at once.
    pub ip_in_flight: u32,
    /// Keys each counter tracks at most; past it, the oldest keys that are not locked go first.
    pub max_tracked: usize,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            account_failures: 10,
            ip_failures: 100,
            window_secs: 300,
            ip_in_flight: 8,
            max_tracked: 100_000,
        }
    }
}

/// The account an attempt is counted against: the user when the login names one (so a user's
/// username and email share one bucket), else a keyed hash of the login, normalised: 32 bytes
/// whatever the caller typed, so a flood of long made-up logins cannot grow the table's memory.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AccountKey {
    User(UserId),
    Unknown(TokenHash),
}

impl AccountKey {
    pub fn unknown(hasher: &SecretHasher, login: &str) -> Self {
        AccountKey::Unknown(hasher.hash(&format!("throttle\0{}", login.trim().to_lowercase())))
    }
}

/// The client network an attempt is counted against: an IPv4 address, or the /64 of an IPv6 one
/// (one subscriber usually holds a whole /64, so counting single IPv6 addresses counts nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Network(IpAddr);

impl From<IpAddr> for Network {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Network(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Network(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    Network(IpAddr::V6(bits.into()))
                }
            },
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

/// How a reserved attempt ended, for its counter.
#[derive(Clone, Copy)]
enum Outcome {
    /// A wrong password (or a request that went away): the attempt stays counted.
    Failed,
    /// Never checked: the attempt is given back.
    GivenBack,
    /// A success: this attempt and the finished failures before it are forgiven.
    Forgiven,
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

    /// Takes one attempt for `key`. Refused as locked when finished failures alone reach the limit,
    /// as busy when attempts still in flight (which may succeed) make up the rest.
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
            return Err(if w.attempts - w.in_flight >= self.limit {
                Refusal::Locked {
                    retry_after: w.started + self.window - now,
                }
            } else {
                Refusal::Busy
            });
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

/// Sign-ins in flight per network.
struct InFlight {
    cap: u32,
    counts: Mutex<HashMap<Network, u32>>,
}

pub struct Throttle {
    accounts: Counter<AccountKey>,
    networks: Counter<Network>,
    in_flight: InFlight,
}

/// Why an attempt was refused before its password was looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The account or the network used up its attempts; retry after this many seconds.
    Locked { retry_after: i64 },
    /// The network already has its share of sign-ins in flight, or the account's remaining
    /// attempts are all in flight: retry in a moment.
    Busy,
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Self {
        let window = settings.window_secs;
        Throttle {
            accounts: Counter::new(settings.account_failures, window, settings.max_tracked),
            networks: Counter::new(settings.ip_failures, window, settings.max_tracked),
            in_flight: InFlight {
                cap: settings.ip_in_flight.max(1),
                counts: Mutex::new(HashMap::new()),
            },
        }
    }

    /// Holds one of the network's in-flight slots until the returned guard is dropped.
    pub fn enter(&self, ip: Option<IpAddr>) -> Result<Slot<'_>, Refusal> {
        let network = ip.map(Network::from);
        if let Some(network) = network {
            let mut counts = self
                .in_flight
                .counts
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let n = counts.entry(network).or_insert(0);
            if *n >= self.in_flight.cap {
                return Err(Refusal::Busy);
            }
            *n += 1;
        }
        Ok(Slot {
            throttle: self,
            network,
        })
    }

    /// Whether the network is locked out: a cheap look before any work for a request that
    /// [`Throttle::reserve`] would refuse anyway.
    pub fn network_locked(&self, ip: Option<IpAddr>, now: i64) -> Option<Refusal> {
        let network = Network::from(ip?);
        self.networks
            .locked_for(&network, now)
            .map(|retry_after| Refusal::Locked { retry_after })
    }

    /// Reserves one attempt against the network and the account. Dropping the [`Attempt`] keeps it
    /// counted (a failure, or a request that went away); [`Attempt::succeeded`] gives it back.
    pub fn reserve(
        &self,
        account: AccountKey,
        ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Attempt<'_>, Refusal> {
        let network = ip.map(Network::from);
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
        Ok(Attempt {
            throttle: self,
            account,
            network,
            settled: false,
        })
    }
}

/// An in-flight slot of one network; freed on drop.
pub struct Slot<'a> {
    throttle: &'a Throttle,
    network: Option<Network>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let Some(network) = self.network else { return };
        let mut counts = self
            .throttle
            .in_flight
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&network) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&network);
            }
        }
    }
}

/// A reserved attempt; counted as failed when dropped unless [`Attempt::succeeded`] or
/// [`Attempt::unchecked`] says otherwise.
#[must_use]
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    account: AccountKey,
    network: Option<Network>,
    settled: bool,
}

impl Attempt<'_> {
    /// A success forgives the account's finished failures and gives the network its attempt back
    /// (not the network's other failures).
    pub fn succeeded(mut self) {
        self.settle(Outcome::Forgiven, Outcome::GivenBack);
    }

    /// The password was never checked (the server was too busy): the attempt is given back to the
    /// account and the network, and nothing else is forgiven.
    pub fn unchecked(mut self) {
        self.settle(Outcome::GivenBack, Outcome::GivenBack);
    }

    fn settle(&mut self, account: Outcome, network: Outcome) {
        self.settled = true;
        self.throttle.accounts.settle(&self.account, account);
        if let Some(n) = &self.network {
            self.throttle.networks.settle(n, network);
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.settle(Outcome::Failed, Outcome::Failed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(ThrottleSettings {
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

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
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
        t.reserve(unknown("carol"), ip("10.0.0.1"), 0)
            .unwrap()
            .succeeded();
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
        t.reserve(AccountKey::User(UserId(3)), None, 0)
            .unwrap()
            .succeeded();
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
        held.into_iter().for_each(Attempt::succeeded);
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
        t.reserve(AccountKey::User(UserId(4)), None, 0)
            .unwrap()
            .unchecked();
        // Two failures stand: one more attempt, then the lock.
        drop(t.reserve(AccountKey::User(UserId(4)), None, 0).unwrap());
        assert!(t.reserve(AccountKey::User(UserId(4)), None, 0).is_err());
    }

    #[test]
    fn a_locked_network_is_seen_before_any_reservation() {
        let t = throttle();
        assert_eq!(t.network_locked(ip("10.0.0.3"), 0), None);
        for i in 0..5 {
            drop(
                t.reserve(unknown(&format!("u{i}")), ip("10.0.0.3"), 0)
                    .unwrap(),
            );
        }
        assert_eq!(
            t.network_locked(ip("10.0.0.3"), 10),
            Some(Refusal::Locked { retry_after: 50 })
        );
        assert_eq!(
            t.network_locked(ip("10.0.0.3"), 60),
            None,
            "the window ended"
        );
        assert_eq!(t.network_locked(None, 10), None);
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

    #[test]
    fn a_network_holds_at_most_its_share_of_sign_ins_in_flight() {
        let t = throttle();
        let a = t.enter(ip("10.0.0.9")).unwrap();
        let _b = t.enter(ip("10.0.0.9")).unwrap();
        assert_eq!(t.enter(ip("10.0.0.9")).err(), Some(Refusal::Busy));
        assert!(t.enter(ip("10.0.0.10")).is_ok());
        drop(a);
        assert!(t.enter(ip("10.0.0.9")).is_ok());
    }
}
