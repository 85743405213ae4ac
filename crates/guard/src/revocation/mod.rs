//! Following the server's revocation feed (`GET <issuer>/revocations`, `latchkey_proto::Revocations`),
//! so that a JWT revoked at the server, or issued to a user before they were disabled, logged out
//! everywhere or given a new password, is refused here within seconds rather than at its expiry.
//! See `docs/design/guard.md`, "Following the revocation feed".
//!
//! Each request with a verified JWT reads the held set through an [`ArcSwap`] (no lock) and
//! compares one timestamp; a background task keeps both current.

mod follow;
mod held;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use latchkey_proto::Revocations;
use latchkey_token::AccessClaims;
use reqwest::Url;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::config::{parse_url, ClientSecret, ConfigError};
use crate::fetch::{Credentials, FetchError, Issuer};
use crate::stats::{Counter, Stats};
use held::Held;

/// The guard's own confidential client for the revocation feed, which the server must have
/// granted `revocations:read` (`latchkey client create ... --permission revocations:read`), and
/// what to do while the feed cannot be read. Build it with [`RevocationFeedConfig::new`].
#[derive(Clone, Debug)]
pub struct RevocationFeedConfig {
    /// The feed's URL; default: `<issuer>/revocations`.
    pub endpoint: Option<String>,
    /// The guard's client id.
    pub client_id: String,
    /// The guard's client secret.
    pub client_secret: ClientSecret,
    /// How long each poll asks the server to wait for news (the server caps it at 60 s). At
    /// least one second. Default: 25 s, under the idle timeout of common proxies.
    pub poll_wait: Duration,
    /// The feed is stale when no answer has come for `poll_wait` plus this long: a quiet poll
    /// answers after `poll_wait`, so this is the allowance for the round trip and a retry.
    /// Default: 10 s (stale after 35 s).
    pub staleness_margin: Duration,
    /// What becomes of JWTs while the feed is stale (or before it was ever read).
    pub when_stale: WhenStale,
}

impl RevocationFeedConfig {
    /// The feed at its default place, read with this client's credentials, and the defaults
    /// above.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        RevocationFeedConfig {
            endpoint: None,
            client_id: client_id.into(),
            client_secret: ClientSecret::new(client_secret),
            poll_wait: Duration::from_secs(25),
            staleness_margin: Duration::from_secs(10),
            when_stale: WhenStale::default(),
        }
    }
}

/// What a stale feed means for each class of token. A stale feed does not say a token is bad,
/// only that a revocation may not have reached the guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WhenStale {
    /// Tokens whose `administrator` or `superuser` claim is true: what a stolen token does the
    /// most harm with. Default: [`FailMode::Closed`].
    pub staff: FailMode,
    /// Every other token (including staff tokens without the `profile` scope, which carry no
    /// flags). Default: [`FailMode::Open`].
    pub others: FailMode,
}

impl Default for WhenStale {
    fn default() -> Self {
        WhenStale {
            staff: FailMode::Closed,
            others: FailMode::Open,
        }
    }
}

/// Whether a token that cannot be checked against a current revocation set is let through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailMode {
    /// Accept it (counted in [`GuardStats::stale_passes`](crate::GuardStats::stale_passes)).
    Open,
    /// Refuse it with 503 and `Retry-After`: the token is not known to be bad, so it is not a
    /// 401 that would make the client drop it.
    Closed,
}

/// The validated feed settings.
#[derive(Debug)]
pub(crate) struct ValidRevocationFeed {
    endpoint: Url,
    client_id: String,
    client_secret: ClientSecret,
    poll_wait: Duration,
    /// Whole seconds, as the request's clock is read.
    max_staleness: i64,
    when_stale: WhenStale,
}

impl ValidRevocationFeed {
    pub(crate) fn new(
        c: RevocationFeedConfig,
        issuer: &str,
        plain_http: bool,
    ) -> Result<Self, ConfigError> {
        if c.client_id.is_empty() {
            return Err(ConfigError::Empty("revocations.client_id"));
        }
        if c.poll_wait < Duration::from_secs(1) {
            return Err(ConfigError::TooShort {
                setting: "revocations.poll_wait",
                least: Duration::from_secs(1),
            });
        }
        let endpoint = match &c.endpoint {
            Some(endpoint) => parse_url("revocations.endpoint", endpoint, plain_http)?,
            None => parse_url(
                "issuer",
                &format!("{}/revocations", issuer.trim_end_matches('/')),
                plain_http,
            )?,
        };
        let limit = c.poll_wait.saturating_add(c.staleness_margin);
        Ok(ValidRevocationFeed {
            endpoint,
            client_id: c.client_id,
            client_secret: c.client_secret,
            poll_wait: c.poll_wait,
            // Rounded up to whole seconds, the resolution of the request's clock.
            max_staleness: i64::try_from(limit.as_secs() + u64::from(limit.subsec_nanos() > 0))
                .unwrap_or(i64::MAX),
            when_stale: c.when_stale,
        })
    }
}

/// Why a verified JWT is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The feed revoked it: by `jti`, or by its user's not-before instant.
    Revoked,
    /// The feed is stale and the token's class fails closed.
    Stale,
}

/// A guard's follower of the feed: the held set, how current it is, and the background task.
pub(crate) struct RevocationFeed {
    shared: Arc<Shared>,
    follower: OnceLock<AbortHandle>,
}

/// What the feed's handle and its follower task share.
pub(crate) struct Shared {
    http: Arc<Issuer>,
    endpoint: Url,
    client_id: String,
    client_secret: ClientSecret,
    poll_wait: Duration,
    http_timeout: Duration,
    leeway: i64,
    max_staleness: i64,
    when_stale: WhenStale,
    held: ArcSwap<Held>,
    /// Unix seconds when the follower last caught up; [`NEVER`] before the first time.
    read_at: AtomicI64,
    /// The cursor of that answer.
    cursor: AtomicI64,
    /// Whether the follower has finished its first read, successfully or not. Requests before
    /// then wait for it, so that a guard just started does not judge the feed stale.
    tried: watch::Sender<bool>,
    stats: Arc<Stats>,
}

const NEVER: i64 = i64::MIN;

impl RevocationFeed {
    pub(crate) fn new(
        config: ValidRevocationFeed,
        http: Arc<Issuer>,
        http_timeout: Duration,
        leeway: i64,
        stats: Arc<Stats>,
    ) -> Self {
        let shared = Shared {
            http,
            endpoint: config.endpoint,
            client_id: config.client_id,
            client_secret: config.client_secret,
            poll_wait: config.poll_wait,
            http_timeout,
            leeway,
            max_staleness: config.max_staleness,
            when_stale: config.when_stale,
            held: ArcSwap::from_pointee(Held::default()),
            read_at: AtomicI64::new(NEVER),
            cursor: AtomicI64::new(NEVER),
            tried: watch::Sender::new(false),
            stats,
        };
        RevocationFeed {
            shared: Arc::new(shared),
            follower: OnceLock::new(),
        }
    }

    /// Whether the token with these verified claims may be used at `now` (unix seconds).
    pub(crate) async fn admit(&self, claims: &AccessClaims, now: i64) -> Result<(), Refusal> {
        let shared = &self.shared;
        if shared.read_at.load(Ordering::Acquire) == NEVER {
            // Boxed: only a guard's first requests wait here, and unboxed, this wait's state
            // would make every request's future larger.
            Box::pin(self.first_read()).await;
        }
        // A token revoked before the feed went quiet stays refused whatever the fail mode.
        if shared.held.load().revokes(claims) {
            shared.stats.count(Counter::RevokedRefusal);
            return Err(Refusal::Revoked);
        }
        let read_at = shared.read_at.load(Ordering::Acquire);
        if now.saturating_sub(read_at) <= shared.max_staleness {
            return Ok(());
        }
        let staff = claims.administrator == Some(true) || claims.superuser == Some(true);
        let mode = if staff {
            shared.when_stale.staff
        } else {
            shared.when_stale.others
        };
        match mode {
            FailMode::Open => {
                shared.stats.count(Counter::StalePass);
                Ok(())
            }
            FailMode::Closed => {
                shared.stats.count(Counter::StaleRefusal);
                Err(Refusal::Stale)
            }
        }
    }

    /// Starts the follower if need be, and waits until it has finished its first read; `true`
    /// if the set has been read.
    pub(crate) async fn first_read(&self) -> bool {
        self.follower
            .get_or_init(|| tokio::spawn(follow::follow(self.shared.clone())).abort_handle());
        let mut tried = self.shared.tried.subscribe();
        // Bounded (by one poll's timeout), so that no request waits on the follower for ever: a
        // first read that takes longer leaves the feed stale for now, and the fail modes decide.
        let bound = self.shared.poll_wait + self.shared.http_timeout;
        let _ = tokio::time::timeout(bound, tried.wait_for(|&tried| tried)).await;
        self.shared.read_at.load(Ordering::Acquire) != NEVER
    }

    /// The cursor of the last answer that caught up, if any.
    pub(crate) fn cursor(&self) -> Option<i64> {
        Some(self.shared.cursor.load(Ordering::Acquire)).filter(|&c| c != NEVER)
    }

    /// How long ago, seen from `now`, the follower last caught up, if ever.
    pub(crate) fn age(&self, now: i64) -> Option<Duration> {
        let read_at = self.shared.read_at.load(Ordering::Acquire);
        (read_at != NEVER)
            .then(|| Duration::from_secs(u64::try_from(now.saturating_sub(read_at)).unwrap_or(0)))
    }
}

impl Drop for RevocationFeed {
    fn drop(&mut self) {
        if let Some(follower) = self.follower.get() {
            follower.abort();
        }
    }
}

impl std::fmt::Debug for RevocationFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationFeed")
            .field("endpoint", &self.shared.endpoint.as_str())
            .field("client_id", &self.shared.client_id)
            .field("cursor", &self.cursor())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// One long poll: the full set when `after` is `None`.
    async fn poll(&self, after: Option<i64>) -> Result<Revocations, FetchError> {
        let mut url = self.endpoint.clone();
        if let Some(after) = after {
            url.query_pairs_mut()
                .append_pair("after", &after.to_string())
                .append_pair("wait", &self.poll_wait.as_secs().to_string());
        }
        // The server holds the answer up to the wait: allow for that on top of the timeout.
        let timeout = self.poll_wait + self.http_timeout;
        let credentials = Credentials {
            id: &self.client_id,
            secret: &self.client_secret,
        };
        self.http.get_json_as(&url, credentials, timeout).await
    }

    /// The held set is current as of `now`, at `cursor`.
    fn caught_up(&self, cursor: i64, now: i64) {
        self.cursor.store(cursor, Ordering::Release);
        self.read_at.store(now, Ordering::Release);
        metrics::gauge!("latchkey_guard_revocation_feed_read_seconds").set(now as f64);
        self.tried();
    }

    /// The follower's first read is over, whatever its outcome.
    fn tried(&self) {
        self.tried
            .send_if_modified(|tried| !std::mem::replace(tried, true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::tests::claims;
    use crate::revocation::held::tests::answer;

    fn valid(c: RevocationFeedConfig) -> Result<ValidRevocationFeed, ConfigError> {
        ValidRevocationFeed::new(c, "https://lms.example.com/oauth2/", false)
    }

    /// A feed that was read at 1 000 with the default limit (stale after 1 035), never polled.
    fn read_at_1000(when_stale: WhenStale, stats: Arc<Stats>) -> RevocationFeed {
        let mut config = RevocationFeedConfig::new("guard", "s");
        config.when_stale = when_stale;
        let http = Issuer::new(
            Url::parse("https://lms.example.com/oauth2").unwrap(),
            Duration::from_secs(1),
            false,
        )
        .unwrap();
        let feed = RevocationFeed::new(
            valid(config).unwrap(),
            Arc::new(http),
            Duration::from_secs(5),
            30,
            stats,
        );
        feed.shared.caught_up(7, 1_000);
        feed
    }

    #[tokio::test]
    async fn a_stale_feed_applies_the_mode_of_the_tokens_class() {
        let stats = Arc::new(Stats::default());
        let feed = read_at_1000(WhenStale::default(), stats.clone());
        let plain = claims();
        let admin = AccessClaims {
            administrator: Some(true),
            ..claims()
        };
        let root = AccessClaims {
            superuser: Some(true),
            administrator: Some(false),
            ..claims()
        };
        for c in [&plain, &admin, &root] {
            assert_eq!(feed.admit(c, 1_035).await, Ok(()), "at the limit");
        }
        assert_eq!(feed.admit(&admin, 1_036).await, Err(Refusal::Stale));
        assert_eq!(feed.admit(&root, 1_036).await, Err(Refusal::Stale));
        assert_eq!(feed.admit(&plain, 1_036).await, Ok(()));
        let counted = stats.snapshot();
        assert_eq!((counted.stale_refusals, counted.stale_passes), (2, 1));
        assert_eq!(feed.cursor(), Some(7));
        assert_eq!(feed.age(1_036), Some(Duration::from_secs(36)));

        // What is held still refuses, stale or not, whatever the mode.
        let mut held = Held::default();
        held.add(answer(&[(plain.jti.as_str(), plain.exp)], &[]));
        feed.shared.held.store(Arc::new(held));
        assert_eq!(feed.admit(&plain, 1_036).await, Err(Refusal::Revoked));
        assert_eq!(feed.admit(&plain, 1_000).await, Err(Refusal::Revoked));
        assert_eq!(stats.snapshot().revoked_refusals, 2);
    }

    #[tokio::test]
    async fn the_modes_can_be_turned_around() {
        let when_stale = WhenStale {
            staff: FailMode::Open,
            others: FailMode::Closed,
        };
        let feed = read_at_1000(when_stale, Arc::default());
        let admin = AccessClaims {
            administrator: Some(true),
            ..claims()
        };
        assert_eq!(feed.admit(&admin, 2_000).await, Ok(()));
        assert_eq!(feed.admit(&claims(), 2_000).await, Err(Refusal::Stale));
    }

    #[test]
    fn defaults_and_the_staleness_limit() {
        let v = valid(RevocationFeedConfig::new("guard", "s")).unwrap();
        assert_eq!(
            v.endpoint.as_str(),
            "https://lms.example.com/oauth2/revocations"
        );
        assert_eq!(v.max_staleness, 35);
        assert_eq!(v.when_stale.staff, FailMode::Closed);
        assert_eq!(v.when_stale.others, FailMode::Open);
        let mut c = RevocationFeedConfig::new("guard", "s");
        c.poll_wait = Duration::from_secs(1);
        c.staleness_margin = Duration::from_millis(1_500);
        assert_eq!(valid(c).unwrap().max_staleness, 3, "rounded up");
    }

    #[test]
    fn bad_settings_are_named() {
        assert_eq!(
            valid(RevocationFeedConfig::new("", "s")).unwrap_err(),
            ConfigError::Empty("revocations.client_id")
        );
        let mut c = RevocationFeedConfig::new("guard", "s");
        c.poll_wait = Duration::from_millis(500);
        assert!(matches!(
            valid(c),
            Err(ConfigError::TooShort {
                setting: "revocations.poll_wait",
                ..
            })
        ));
        let mut c = RevocationFeedConfig::new("guard", "s");
        c.endpoint = Some("http://lms.example.com/oauth2/revocations".into());
        assert!(matches!(
            valid(c),
            Err(ConfigError::Url {
                setting: "revocations.endpoint",
                ..
            })
        ));
        assert!(
            !format!("{:?}", RevocationFeedConfig::new("guard", "hunter2")).contains("hunter2")
        );
    }
}
