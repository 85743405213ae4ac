//! Asking Latchkey's authorization API (`POST /authz/v1/check`) whether a user may do an action
//! in a scope, with a local cache of the answers that the server's change feed
//! (`GET /authz/v1/changes`) invalidates: within milliseconds of a change on the node it follows,
//! within that node's janitor interval for a change made on another node, and, when the feed
//! cannot be reached, within the cache TTL. See `docs/design/authz-feed.md`.
//!
//! ```
//! use latchkey_guard::{AuthzClient, AuthzConfig};
//!
//! # fn demo() -> Result<(), latchkey_guard::ConfigError> {
//! let authz = AuthzClient::new(AuthzConfig::new("https://lms.example.com", "guard", "secret"))?;
//! // In a handler (`AuthzClient` is `Clone`: put it in the router's state):
//! // authz.require(&user, "act^content_libraries.view_library", "lib^lib:MITx:physics").await?;
//! # let _ = authz;
//! # Ok(())
//! # }
//! ```

mod decisions;
mod follow;

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use latchkey_proto::authz::{
    Changes, Check, CheckBatch, CheckBatchResult, CheckRequest, CheckResult,
};
use reqwest::{StatusCode, Url};
use tokio::task::AbortHandle;

use crate::config::{parse_url, ClientSecret, ConfigError, GuardConfig};
use crate::fetch::{Credentials, FetchError, Issuer};
use crate::identity::Authenticated;
use crate::rejection::{Rejection, RejectionKind};
use crate::stats::{AuthzCounter, AuthzCounters, AuthzStats};
use decisions::Decisions;

/// How an [`AuthzClient`] reaches the server. Build it with [`AuthzConfig::new`] or
/// [`AuthzConfig::from_guard`] and change what you need.
#[derive(Clone, Debug)]
pub struct AuthzConfig {
    /// The Latchkey server's base URL (the issuer without its `/oauth2`), e.g.
    /// `https://lms.example.com`; the API is under `/authz/v1/`.
    pub server: String,
    /// A confidential client of the server granted `authz:read`
    /// (`latchkey client create ... --permission authz:read`).
    pub client_id: String,
    /// That client's secret.
    pub client_secret: ClientSecret,
    /// How many answers are cached. `0` turns the cache off. Default: 10 000.
    pub cache_capacity: u64,
    /// The longest an answer is cached: the bound on staleness while the change feed cannot be
    /// reached (it normally invalidates much sooner). Default: 60 s.
    pub cache_ttl: Duration,
    /// Timeout of each check request. Default: 5 s.
    pub http_timeout: Duration,
    /// How long each poll of the change feed asks the server to wait (the server caps it at
    /// 60 s). Default: 25 s, under the idle timeout of common proxies.
    pub poll_wait: Duration,
    allow_plain_http: bool,
}

impl AuthzConfig {
    /// The server at `server` with this client's credentials, and the defaults above.
    pub fn new(
        server: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        AuthzConfig {
            server: server.into(),
            client_id: client_id.into(),
            client_secret: ClientSecret::new(client_secret),
            cache_capacity: 10_000,
            cache_ttl: Duration::from_secs(60),
            http_timeout: Duration::from_secs(5),
            poll_wait: Duration::from_secs(25),
            allow_plain_http: false,
        }
    }

    /// The server of a guard's issuer (Latchkey's and Open edX's issuers are `<server>/oauth2`),
    /// with the guard's introspection client, HTTP timeout and plain-`http` choice; `None` when
    /// the guard has no introspection client.
    pub fn from_guard(guard: &GuardConfig) -> Option<Self> {
        let introspection = guard.introspection.as_ref()?;
        let issuer = guard.issuer.trim_end_matches('/');
        let mut config = AuthzConfig::new(
            issuer.strip_suffix("/oauth2").unwrap_or(issuer),
            introspection.client_id.clone(),
            "",
        );
        config.client_secret = introspection.client_secret.clone();
        config.http_timeout = guard.http_timeout;
        config.allow_plain_http = guard.danger.allow_plain_http;
        Some(config)
    }
}

/// Why a check has no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The server refused the question as asked (HTTP 400), e.g. a subject without `^` or the
    /// scope `*`: the check has no answer, and guessing one would be wrong.
    #[error("the authz server refused the check: {0}")]
    Invalid(String),
    /// The server cannot be asked now: unreachable, an error status (a 401 means this client's
    /// credentials are wrong, a 403 that it was not granted `authz:read`), or an answer that is not
    /// the expected JSON. Operator detail.
    #[error("the authz server cannot be asked: {0}")]
    Unavailable(String),
}

impl From<FetchError> for CheckError {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::Status {
                status: StatusCode::BAD_REQUEST,
                description,
                ..
            } => CheckError::Invalid(description.unwrap_or_else(|| "bad request".into())),
            other => CheckError::Unavailable(other.to_string()),
        }
    }
}

/// Asks the authorization API, with a local cache. Cheap to clone (one `Arc`): build one per
/// service and put it in the router's state. The change-feed follower starts with the first check
/// and stops when the last clone is dropped.
#[derive(Clone)]
pub struct AuthzClient {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    follower: OnceLock<AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(follower) = self.follower.get() {
            follower.abort();
        }
    }
}

/// What the client and its follower task share.
pub(crate) struct Shared {
    http: Issuer,
    check_url: Url,
    changes_url: Url,
    client_id: String,
    client_secret: ClientSecret,
    http_timeout: Duration,
    poll_wait: Duration,
    pub(crate) decisions: Decisions,
    pub(crate) stats: AuthzCounters,
}

impl AuthzClient {
    /// Validates `config` and builds the client. No I/O happens here.
    pub fn new(config: AuthzConfig) -> Result<AuthzClient, ConfigError> {
        if config.client_id.is_empty() {
            return Err(ConfigError::Empty("authz.client_id"));
        }
        let server = config.server.trim_end_matches('/');
        let url = |path: &str| {
            parse_url(
                "authz.server",
                &format!("{server}{path}"),
                config.allow_plain_http,
            )
        };
        let check_url = url("/authz/v1/check")?;
        let changes_url = url("/authz/v1/changes")?;
        let http = Issuer::new(
            check_url.clone(),
            config.http_timeout,
            config.allow_plain_http,
        )
        .map_err(|e| ConfigError::Http(e.to_string()))?;
        let shared = Shared {
            http,
            check_url,
            changes_url,
            client_id: config.client_id,
            client_secret: config.client_secret,
            http_timeout: config.http_timeout,
            poll_wait: config.poll_wait,
            decisions: Decisions::new(config.cache_capacity, config.cache_ttl),
            stats: AuthzCounters::default(),
        };
        Ok(AuthzClient {
            inner: Arc::new(Inner {
                shared: Arc::new(shared),
                follower: OnceLock::new(),
            }),
        })
    }

    /// Whether `subject` (`user^alice`) may do `action` (`act^...`) in `scope` (`lib^...`,
    /// `course-v1^...`).
    pub async fn check(
        &self,
        subject: &str,
        action: &str,
        scope: &str,
    ) -> Result<bool, CheckError> {
        let answers = self.check_batch(&[(subject, action, scope)]).await?;
        answers
            .first()
            .copied()
            .ok_or_else(|| CheckError::Unavailable("the server answered no decision".into()))
    }

    /// Answers for many checks, in order: cached ones from the cache, the rest in one request.
    /// Ask at most 1000 uncached checks at once (the server's batch limit).
    pub async fn check_batch(
        &self,
        checks: &[(&str, &str, &str)],
    ) -> Result<Vec<bool>, CheckError> {
        self.follow();
        let shared = &self.inner.shared;
        shared.stats.count(AuthzCounter::Check, checks.len() as u64);
        let mut answers = Vec::with_capacity(checks.len());
        let mut missing = Vec::new();
        for (i, &(subject, action, scope)) in checks.iter().enumerate() {
            let key = decisions::key(subject, action, scope);
            let cached = shared.decisions.get(&key).await;
            if cached.is_none() {
                missing.push((i, key));
            }
            answers.push(cached.unwrap_or(false));
        }
        shared.stats.count(
            AuthzCounter::CacheHit,
            (checks.len() - missing.len()) as u64,
        );
        if missing.is_empty() {
            return Ok(answers);
        }
        let asked: Vec<Check> = missing
            .iter()
            .filter_map(|&(i, _)| checks.get(i))
            .map(|&(subject, action, scope)| Check {
                subject: subject.to_owned(),
                action: action.to_owned(),
                scope: scope.to_owned(),
            })
            .collect();
        let (results, version) = shared.ask(asked).await?;
        if results.len() != missing.len() {
            return Err(CheckError::Unavailable(format!(
                "asked {} checks, the server answered {}",
                missing.len(),
                results.len()
            )));
        }
        for ((i, key), allowed) in missing.into_iter().zip(results) {
            if let Some(answer) = answers.get_mut(i) {
                *answer = allowed;
            }
            // An answer without a version (a server older than the change feed) is not cached:
            // nothing would ever invalidate it.
            if let Some(version) = version {
                if shared.decisions.insert(key, allowed, version).await {
                    shared.stats.count(AuthzCounter::Invalidation, 1);
                }
            }
        }
        Ok(answers)
    }

    /// Whether the authenticated user (`user^<username>`, as openedx-authz names users) may do
    /// `action` in `scope`.
    pub async fn allows(
        &self,
        user: &Authenticated,
        action: &str,
        scope: &str,
    ) -> Result<bool, CheckError> {
        self.check(&format!("user^{}", user.username()), action, scope)
            .await
    }

    /// `Ok` if the authenticated user may do `action` in `scope`; else a 403 `access_denied`, or a
    /// 503 when the server cannot be asked, for handlers that return `Result<_, Rejection>`. A
    /// check the server refuses as asked (a malformed scope from a path) is a 403 as well.
    pub async fn require(
        &self,
        user: &Authenticated,
        action: &str,
        scope: &str,
    ) -> Result<(), Rejection> {
        match self.allows(user, action, scope).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(user.reject(RejectionKind::NotPermitted)),
            Err(CheckError::Invalid(reason)) => {
                tracing::info!(%reason, scope, "latchkey-guard: authz check refused as asked");
                Err(user.reject(RejectionKind::NotPermitted))
            }
            Err(e @ CheckError::Unavailable(_)) => {
                tracing::warn!(error = %e, "latchkey-guard: authz check failed");
                Err(user.reject(RejectionKind::Unavailable))
            }
        }
    }

    /// What the client has done so far.
    pub fn stats(&self) -> AuthzStats {
        self.inner.shared.stats.snapshot()
    }

    /// The newest version of the rules seen (from the feed or a check answer); -1 before any.
    pub fn version(&self) -> i64 {
        self.inner.shared.decisions.newest()
    }

    /// Starts the change-feed follower, once; the first check calls it, or call it at start-up
    /// (inside a Tokio runtime) so that the first checks are already covered by the feed.
    pub fn follow(&self) {
        self.inner
            .follower
            .get_or_init(|| tokio::spawn(follow::follow(self.inner.shared.clone())).abort_handle());
    }
}

impl Shared {
    /// One request to the check endpoint: the answers, and the version they were made at.
    async fn ask(&self, checks: Vec<Check>) -> Result<(Vec<bool>, Option<i64>), CheckError> {
        self.stats.count(AuthzCounter::ServerCheck, 1);
        let credentials = self.credentials();
        if let [_] = checks.as_slice() {
            let request = CheckRequest::Single(
                checks
                    .into_iter()
                    .next()
                    .ok_or_else(|| CheckError::Unavailable("no check to ask".into()))?,
            );
            let answer: CheckResult = self
                .http
                .post_json(&self.check_url, &request, credentials)
                .await?;
            return Ok((vec![answer.allowed], answer.version));
        }
        let request = CheckRequest::Batch(CheckBatch { checks });
        let answer: CheckBatchResult = self
            .http
            .post_json(&self.check_url, &request, credentials)
            .await?;
        let allowed = answer.results.iter().map(|r| r.allowed).collect();
        Ok((allowed, answer.version))
    }

    /// One long poll of the change feed.
    pub(crate) async fn poll(&self, after: i64) -> Result<Changes, FetchError> {
        let mut url = self.changes_url.clone();
        url.query_pairs_mut()
            .append_pair("after", &after.to_string())
            .append_pair("wait", &self.poll_wait.as_secs().to_string());
        // The server holds the answer up to the wait: allow for that on top of the timeout.
        let timeout = self.poll_wait + self.http_timeout;
        self.http
            .get_json_as(&url, self.credentials(), timeout)
            .await
    }

    fn credentials(&self) -> Credentials<'_> {
        Credentials {
            id: &self.client_id,
            secret: &self.client_secret,
        }
    }
}

impl fmt::Debug for AuthzClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.inner.shared;
        f.debug_struct("AuthzClient")
            .field("check_url", &shared.check_url.as_str())
            .field("client_id", &shared.client_id)
            .field("client_secret", &shared.client_secret)
            .field("version", &shared.decisions.newest())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_a_guard_config() {
        let mut guard = GuardConfig::new("https://lms.example.com/oauth2/", "openedx");
        assert!(AuthzConfig::from_guard(&guard).is_none());
        guard.introspection = Some(crate::IntrospectionConfig::new("guard", "hunter2"));
        let config = AuthzConfig::from_guard(&guard).unwrap();
        assert_eq!(config.server, "https://lms.example.com");
        let client = AuthzClient::new(config).unwrap();
        assert_eq!(
            client.inner.shared.check_url.as_str(),
            "https://lms.example.com/authz/v1/check"
        );
        assert_eq!(
            client.inner.shared.changes_url.as_str(),
            "https://lms.example.com/authz/v1/changes"
        );
        let shown = format!("{client:?}");
        assert!(
            shown.contains("guard") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let plain = AuthzConfig::new("http://lms.example.com", "guard", "s");
        assert!(matches!(
            AuthzClient::new(plain),
            Err(ConfigError::Url {
                setting: "authz.server",
                ..
            })
        ));
        assert!(AuthzClient::new(AuthzConfig::new("http://127.0.0.1:8000/", "guard", "s")).is_ok());
        assert_eq!(
            AuthzClient::new(AuthzConfig::new("https://x", "", "s")).unwrap_err(),
            ConfigError::Empty("authz.client_id")
        );
    }

    #[test]
    fn a_refused_check_is_invalid_and_anything_else_unavailable() {
        let status = |status, description: Option<&str>| FetchError::Status {
            url: "https://x/authz/v1/check".into(),
            status,
            description: description.map(Into::into),
        };
        assert!(matches!(
            CheckError::from(status(StatusCode::BAD_REQUEST, Some("the subject needs ^"))),
            CheckError::Invalid(d) if d == "the subject needs ^"
        ));
        assert!(matches!(
            CheckError::from(status(StatusCode::UNAUTHORIZED, None)),
            CheckError::Unavailable(_)
        ));
    }
}
