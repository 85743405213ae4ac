//! Brute-force protection for the password grant: a fixed window of failed attempts per account
//! and per client IP. Over either limit, attempts are refused without checking the password (so the
//! refusal costs nothing) until the window ends.
//!
//! The counters live in this process. On several nodes each node counts on its own, which bounds an
//! attacker to `nodes × limit` guesses per window; a shared counter is a later step.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleSettings {
    pub account_failures: u32,
    pub ip_failures: u32,
    pub window_secs: i64,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            account_failures: 10,
            ip_failures: 100,
            window_secs: 300,
        }
    }
}

/// Past this many tracked keys, windows that have ended are dropped, then the oldest ones.
const MAX_TRACKED: usize = 100_000;

#[derive(Clone, Copy)]
struct Window {
    started: i64,
    failures: u32,
}

struct Counter<K> {
    limit: u32,
    windows: Mutex<HashMap<K, Window>>,
}

impl<K: Eq + Hash + Clone> Counter<K> {
    fn new(limit: u32) -> Self {
        Counter {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `key` may try again, if it is over its limit.
    fn blocked_for(&self, key: &K, now: i64, window: i64) -> Option<i64> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let w = windows.get(key)?;
        let ends = w.started + window;
        (w.failures >= self.limit && now < ends).then_some(ends - now)
    }

    fn fail(&self, key: K, now: i64, window: i64) {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, w| now < w.started + window);
            if windows.len() >= MAX_TRACKED {
                windows.clear();
            }
        }
        let w = windows.entry(key).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= w.started + window {
            *w = Window {
                started: now,
                failures: 0,
            };
        }
        w.failures = w.failures.saturating_add(1);
    }

    fn clear(&self, key: &K) {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

pub struct Throttle {
    window: i64,
    accounts: Counter<String>,
    ips: Counter<IpAddr>,
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Self {
        Throttle {
            window: settings.window_secs,
            accounts: Counter::new(settings.account_failures),
            ips: Counter::new(settings.ip_failures),
        }
    }

    /// `Err(retry_after_secs)` when the account or the IP is over its limit.
    pub fn check(&self, account: &str, ip: Option<IpAddr>, now: i64) -> Result<(), i64> {
        let by_account = self
            .accounts
            .blocked_for(&account.to_lowercase(), now, self.window);
        let by_ip = ip.and_then(|ip| self.ips.blocked_for(&ip, now, self.window));
        match by_account.max(by_ip) {
            Some(secs) => Err(secs),
            None => Ok(()),
        }
    }

    pub fn failed(&self, account: &str, ip: Option<IpAddr>, now: i64) {
        self.accounts.fail(account.to_lowercase(), now, self.window);
        if let Some(ip) = ip {
            self.ips.fail(ip, now, self.window);
        }
    }

    /// A successful sign-in forgives the account's failures (not the IP's).
    pub fn succeeded(&self, account: &str) {
        self.accounts.clear(&account.to_lowercase());
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
        })
    }

    #[test]
    fn an_account_is_blocked_after_its_limit_until_the_window_ends() {
        let t = throttle();
        for _ in 0..3 {
            assert!(t.check("Alice", None, 100).is_ok());
            t.failed("Alice", None, 100);
        }
        assert_eq!(t.check("alice", None, 110), Err(50));
        assert!(t.check("bob", None, 110).is_ok());
        assert!(t.check("alice", None, 160).is_ok());
    }

    #[test]
    fn an_ip_is_blocked_across_accounts_and_success_forgives_only_the_account() {
        let t = throttle();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for i in 0..5 {
            t.failed(&format!("user{i}"), Some(ip), 0);
        }
        assert_eq!(t.check("someone-else", Some(ip), 1), Err(59));
        assert!(t.check("someone-else", None, 1).is_ok());
        t.failed("carol", None, 0);
        t.failed("carol", None, 0);
        t.failed("carol", None, 0);
        t.succeeded("carol");
        assert!(t.check("carol", None, 1).is_ok());
    }
}
