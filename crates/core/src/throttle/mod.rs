//! Brute-force protection for password sign-in: a fixed window of attempts per account and per
//! client network, and a cap on one network's sign-ins in flight.
//!
//! An attempt is *reserved* before the password is checked and given back only if it succeeds, so
//! requests already in flight count: sixty parallel guesses against a limit of ten reach the
//! password hash ten times, not sixty. Over either limit, attempts are refused without checking the
//! password (so the refusal costs nothing) until the window ends.
//!
//! Where the windows are counted is the wiring's choice ([`Counting`]): in this process
//! (`local.rs`), for one node; or in the database every node shares (`shared.rs`), so that any
//! number of nodes together allow each limit once. The cap on sign-ins in flight is always this
//! node's own: it shares out this node's hashing threads.

mod local;
mod shared;

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::secret::{SecretHasher, TokenHash};
use crate::store::{AttemptStore, StoreError};
use crate::user::UserId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleSettings {
    pub account_failures: u32,
    pub ip_failures: u32,
    pub window_secs: i64,
    /// Password sign-ins one client network may have in flight at once.
    pub ip_in_flight: u32,
    /// Keys each in-process table tracks at most; past it, the oldest keys that are not locked go
    /// first.
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

    /// The key of this account's counter in the database: a tag byte, then the user id or the
    /// keyed hash (never the login as typed).
    pub fn counter_key(&self) -> Vec<u8> {
        match self {
            AccountKey::User(id) => [b"u".as_slice(), &id.0.to_be_bytes()].concat(),
            AccountKey::Unknown(hash) => [b"l".as_slice(), hash.as_bytes()].concat(),
        }
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

impl Network {
    /// The key of this network's counter in the database: a tag byte, then the IPv4 address or
    /// the IPv6 /64.
    pub fn counter_key(&self) -> Vec<u8> {
        match self.0 {
            IpAddr::V4(v4) => [b"4".as_slice(), &v4.octets()].concat(),
            IpAddr::V6(v6) => [b"6".as_slice(), &v6.octets()[..8]].concat(),
        }
    }
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

impl Refusal {
    /// Why a full window refuses: locked when its `finished` failures alone fill it (until it
    /// `ends`), busy when attempts still in flight, which may yet succeed, make up the rest.
    fn of_full(finished: u32, limit: u32, ends: i64, now: i64) -> Refusal {
        if finished >= limit {
            Refusal::Locked {
                retry_after: ends - now,
            }
        } else {
            Refusal::Busy
        }
    }
}

/// How a reserved attempt ended, for its counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A wrong password (or a request that went away): the attempt stays counted.
    Failed,
    /// Never checked: the attempt is given back.
    GivenBack,
    /// A success: this attempt and the finished failures before it are forgiven.
    Forgiven,
}

/// Where a node counts attempts.
#[derive(Clone)]
pub enum Counting {
    /// In this process: for one node (SQLite), and for commands that sign no one in.
    InProcess,
    /// In the database every node shares (PostgreSQL).
    Shared(Arc<dyn AttemptStore>),
}

/// Why no attempt was reserved.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    #[error("refused before checking: {0:?}")]
    Refused(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Throttle {
    window_secs: i64,
    in_flight: InFlight,
    counters: Counters,
}

enum Counters {
    Local(local::Counters),
    Shared(shared::Counters),
}

impl Throttle {
    pub fn new(settings: ThrottleSettings, counting: Counting) -> Self {
        Throttle {
            window_secs: settings.window_secs,
            in_flight: InFlight {
                cap: settings.ip_in_flight.max(1),
                counts: Mutex::new(HashMap::new()),
            },
            counters: match counting {
                Counting::InProcess => Counters::Local(local::Counters::new(settings)),
                Counting::Shared(store) => Counters::Shared(shared::Counters::new(settings, store)),
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

    /// Whether the network is locked out: a cheap look, in this process, before any work for a
    /// request that [`Throttle::reserve`] would refuse anyway.
    pub fn network_locked(&self, ip: Option<IpAddr>, now: i64) -> Option<Refusal> {
        let network = Network::from(ip?);
        let retry_after = match &self.counters {
            Counters::Local(c) => c.network_locked(&network, now),
            Counters::Shared(c) => c.network_locked(&network, now),
        }?;
        Some(Refusal::Locked { retry_after })
    }

    /// Reserves one attempt against the network and the account. [`Attempt::failed`] keeps it
    /// counted, and so does dropping it (a request that went away); [`Attempt::succeeded`] gives
    /// it back.
    pub async fn reserve(
        &self,
        account: AccountKey,
        ip: Option<IpAddr>,
        now: i64,
    ) -> Result<Attempt<'_>, ThrottleError> {
        let network = ip.map(Network::from);
        Ok(Attempt(match &self.counters {
            Counters::Local(c) => Held::Local(
                c.reserve(account, network, now)
                    .map_err(ThrottleError::Refused)?,
            ),
            Counters::Shared(c) => Held::Shared(c.reserve(account, network, now).await?),
        }))
    }

    /// Removes at most `batch` counters whose window has ended by `now` from the shared database,
    /// for the janitor; returns how many (in-process tables make room for themselves).
    pub async fn purge_ended(&self, now: i64, batch: u32) -> Result<u64, StoreError> {
        match &self.counters {
            Counters::Local(_) => Ok(0),
            Counters::Shared(c) => c.purge_ended(now - self.window_secs, now, batch).await,
        }
    }
}

/// Sign-ins in flight per network, on this node.
struct InFlight {
    cap: u32,
    counts: Mutex<HashMap<Network, u32>>,
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

/// A reserved attempt; counted as failed unless [`Attempt::succeeded`] or
/// [`Attempt::unchecked`] says otherwise, also when dropped.
#[must_use]
pub struct Attempt<'a>(Held<'a>);

enum Held<'a> {
    Local(local::Reserved<'a>),
    Shared(shared::Reserved),
}

impl Attempt<'_> {
    /// A success forgives the account's finished failures and gives the network its attempt back
    /// (not the network's other failures).
    pub async fn succeeded(self) {
        self.end(Outcome::Forgiven, Outcome::GivenBack).await;
    }

    /// The password was never checked (the server was too busy): the attempt is given back to the
    /// account and the network, and nothing else is forgiven.
    pub async fn unchecked(self) {
        self.end(Outcome::GivenBack, Outcome::GivenBack).await;
    }

    /// The password was wrong: the attempt stays counted, and is no longer in flight.
    pub async fn failed(self) {
        self.end(Outcome::Failed, Outcome::Failed).await;
    }

    async fn end(self, account: Outcome, network: Outcome) {
        match self.0 {
            Held::Local(r) => r.end(account, network),
            Held::Shared(r) => r.end(account, network).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_network_holds_at_most_its_share_of_sign_ins_in_flight() {
        let t = Throttle::new(
            ThrottleSettings {
                ip_in_flight: 2,
                ..ThrottleSettings::default()
            },
            Counting::InProcess,
        );
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let a = t.enter(ip("10.0.0.9")).unwrap();
        let _b = t.enter(ip("10.0.0.9")).unwrap();
        assert_eq!(t.enter(ip("10.0.0.9")).err(), Some(Refusal::Busy));
        assert!(t.enter(ip("10.0.0.10")).is_ok());
        drop(a);
        assert!(t.enter(ip("10.0.0.9")).is_ok());
    }

    /// Addresses of one IPv6 /64 share a counter in the database, as they do in process.
    #[test]
    fn a_networks_counter_key_is_its_ipv4_address_or_ipv6_64() {
        let key = |s: &str| Network::from(s.parse::<IpAddr>().unwrap()).counter_key();
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:10.1.2.3"), key("10.1.2.3"));
        assert_ne!(key("10.1.2.3"), key("10.1.2.4"));
    }
}
