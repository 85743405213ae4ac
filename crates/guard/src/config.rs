//! What a guard is configured with ([`GuardConfig`]), and its validation into the settings the guard
//! runs on. Raw config goes in; [`Guard::new`](crate::Guard::new) either gets a working guard or a
//! [`ConfigError`] that names the setting at fault.

use std::fmt;
use std::time::Duration;

use latchkey_token::{Algorithm, JwkSet, Validation, JWT_VERSION};
use reqwest::Url;
use zeroize::Zeroizing;

use crate::danger::DangerOptions;
use crate::rejection::RejectionStyle;
use crate::revocation::{RevocationFeedConfig, ValidRevocationFeed};

/// How a guard authenticates requests. Build it with [`GuardConfig::new`] and change what you need;
/// every field has a safe default.
#[derive(Clone, Debug)]
pub struct GuardConfig {
    /// The exact `iss` tokens must carry, e.g. `https://lms.example.com/oauth2`.
    pub issuer: String,
    /// The audience `aud` must contain (Latchkey's default is `latchkey`, Open edX's `openedx`).
    pub audience: String,
    /// Where the verifying keys come from. Default: the issuer's discovery document.
    pub keys: KeySource,
    /// The JWS algorithms accepted. Whatever is listed, a token's `alg` must also be the algorithm
    /// of the key its `kid` names; `none` and `HS*` cannot be named at all. Default: all four
    /// asymmetric algorithms Latchkey signs with; pin it to what your issuer uses.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp` and `iat` (RFC 7519 §4.1.4). Default: 30 s.
    pub leeway: Duration,
    /// The `version` claim's major number a token must carry. Default: that of the tokens
    /// Latchkey issues (`1` of `1.2.0`).
    pub required_version_major: u64,
    /// After this long the key set is refetched in the background while the cached one is still
    /// used. Default: 5 minutes (the JWKS endpoint's `max-age`).
    pub jwks_refresh_after: Duration,
    /// The least time between two fetches of the key set, whatever asked for them: a token with
    /// an unknown `kid` triggers at most one refetch per interval, and a failing issuer is not
    /// hammered. Default: 30 s.
    pub jwks_refetch_interval: Duration,
    /// How long after the last successful fetch the cached key set may still be used while the
    /// issuer cannot be reached. Past it, requests with JWTs get 503. Default: 24 hours.
    pub jwks_max_staleness: Duration,
    /// How many verified tokens are remembered (by SHA-256 of the token, until the token's
    /// `exp`), so that repeated requests pay for the signature once. `0` turns the cache off.
    /// Default: 10 000.
    pub verification_cache_capacity: u64,
    /// Deprecated opaque bearer tokens: accepted only when set, by asking the server's
    /// introspection endpoint (RFC 7662). Default: off.
    pub introspection: Option<IntrospectionConfig>,
    /// Following the server's revocation feed, so that revoked JWTs and the older tokens of
    /// disabled users are refused within seconds. Default: off (a JWT is good until it expires).
    pub revocations: Option<RevocationFeedConfig>,
    /// The JWT cookie pair and the CSRF check of cookie-authenticated requests.
    pub cookies: CookieConfig,
    /// The shape of rejection bodies. Default: RFC 6750.
    pub rejection_style: RejectionStyle,
    /// Timeout of each request to the issuer (discovery, JWKS, introspection). Default: 5 s.
    pub http_timeout: Duration,
    /// Sent in the `Deprecation` header (RFC 9745, `@<unix seconds>`) of every response to a
    /// request authenticated by an opaque token: since when such tokens are deprecated.
    /// Default: 2026-01-01T00:00:00Z.
    pub opaque_deprecated_since: i64,
    pub(crate) danger: DangerOptions,
}

/// Where the verifying keys come from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySource {
    /// The `jwks_uri` of the issuer's discovery document: `<issuer>/.well-known/openid-configuration`
    /// (OpenID Connect Discovery §4), the RFC 8414 §3.1 location, or the issuer origin's
    /// `/.well-known/openid-configuration` (where Latchkey and Open edX serve it), first found.
    Discovery,
    /// This JWK Set URL.
    JwksUri(String),
    /// These keys, never fetched: for tests, benches and offline verifiers.
    Static(JwkSet),
}

/// The guard's own confidential client, for introspecting opaque tokens (RFC 7662 §2.1); the server
/// must have granted it `introspect` (`latchkey client create ... --permission introspect`).
#[derive(Clone, Debug)]
pub struct IntrospectionConfig {
    /// The introspection endpoint; default: the discovery document's `introspection_endpoint`.
    pub endpoint: Option<String>,
    /// The guard's client id.
    pub client_id: String,
    /// The guard's client secret.
    pub client_secret: ClientSecret,
    /// An active answer is cached until the token's `exp`, but never longer than this.
    /// Default: 60 s (a revoked opaque token is refused within it).
    pub cache_ttl: Duration,
    /// How many answers are cached. Default: 10 000.
    pub cache_capacity: u64,
}

impl IntrospectionConfig {
    /// Introspection with this client's credentials and the defaults above.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        IntrospectionConfig {
            endpoint: None,
            client_id: client_id.into(),
            client_secret: ClientSecret::new(client_secret),
            cache_ttl: Duration::from_secs(60),
            cache_capacity: 10_000,
        }
    }
}

/// A client secret: zeroed on drop, never shown by `Debug`.
#[derive(Clone)]
pub struct ClientSecret(Zeroizing<String>);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        ClientSecret(Zeroizing::new(secret.into()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// The JWT cookie pair (product.md §3) and the CSRF check of requests it authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieConfig {
    /// Whether the cookie pair is read at all. Default: yes.
    pub enabled: bool,
    /// `<header>.<payload>`. Default: `edx-jwt-cookie-header-payload`.
    pub header_payload: String,
    /// `<signature>`. Default: `edx-jwt-cookie-signature`.
    pub signature: String,
    /// The cookie holding the CSRF token. Default: `csrftoken` (Django's).
    pub csrf_cookie: String,
    /// The request header that must repeat it on unsafe methods. Default: `X-CSRFToken`.
    pub csrf_header: String,
}

impl Default for CookieConfig {
    fn default() -> Self {
        CookieConfig {
            enabled: true,
            header_payload: "edx-jwt-cookie-header-payload".into(),
            signature: "edx-jwt-cookie-signature".into(),
            csrf_cookie: "csrftoken".into(),
            csrf_header: "X-CSRFToken".into(),
        }
    }
}

impl GuardConfig {
    /// Tokens from `issuer` for `audience`, keys from the issuer's discovery document, and every
    /// other setting at its default.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        GuardConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            keys: KeySource::Discovery,
            algorithms: Algorithm::ALL.to_vec(),
            leeway: Duration::from_secs(30),
            required_version_major: current_version_major(),
            jwks_refresh_after: Duration::from_secs(300),
            jwks_refetch_interval: Duration::from_secs(30),
            jwks_max_staleness: Duration::from_secs(24 * 3600),
            verification_cache_capacity: 10_000,
            introspection: None,
            revocations: None,
            cookies: CookieConfig::default(),
            rejection_style: RejectionStyle::Rfc6750,
            http_timeout: Duration::from_secs(5),
            opaque_deprecated_since: 1_767_225_600,
            danger: DangerOptions::default(),
        }
    }

    /// Risky options, each named for what it gives up; see [`crate::danger`].
    pub fn dangerous(&mut self) -> crate::danger::DangerousConfig<'_> {
        crate::danger::DangerousConfig {
            danger: &mut self.danger,
        }
    }
}

fn current_version_major() -> u64 {
    JWT_VERSION
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(1)
}

/// A setting that cannot work; the message names it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting is empty.
    #[error("guard setting `{0}` must not be empty")]
    Empty(&'static str),
    /// A URL setting does not parse, or is not `https` (plain `http` is allowed for loopback
    /// hosts, and elsewhere only through `dangerous().allow_plain_http()`).
    #[error("guard setting `{setting}` is not a usable URL ({reason}): {value}")]
    Url {
        /// The setting.
        setting: &'static str,
        /// The URL given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A cookie or header name is not a valid token (RFC 6265 §4.1.1, RFC 9110 §5.1).
    #[error("guard setting `{setting}` is not a valid name: {value:?}")]
    Name {
        /// The setting.
        setting: &'static str,
        /// The name given.
        value: String,
    },
    /// Durations that contradict each other.
    #[error("guard setting `jwks_max_staleness` must be at least `jwks_refresh_after`")]
    Staleness,
    /// A duration shorter than the setting allows.
    #[error("guard setting `{setting}` must be at least {least:?}")]
    TooShort {
        /// The setting.
        setting: &'static str,
        /// The least it may be.
        least: Duration,
    },
    /// The HTTP client could not be built.
    #[error("guard HTTP client: {0}")]
    Http(String),
}

/// The validated configuration the guard runs on.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) issuer: Url,
    pub(crate) validation: Validation,
    pub(crate) keys: ValidKeySource,
    pub(crate) jwks_refresh_after: Duration,
    pub(crate) jwks_refetch_interval: Duration,
    pub(crate) jwks_max_staleness: Duration,
    pub(crate) verification_cache_capacity: u64,
    pub(crate) introspection: Option<ValidIntrospection>,
    pub(crate) revocations: Option<ValidRevocationFeed>,
    pub(crate) cookies: Option<ValidCookies>,
    pub(crate) rejection_style: RejectionStyle,
    pub(crate) http_timeout: Duration,
    pub(crate) opaque_deprecated_since: i64,
    pub(crate) danger: DangerOptions,
}

#[derive(Debug)]
pub(crate) enum ValidKeySource {
    Discovery,
    JwksUri(Url),
    Static(JwkSet),
}

#[derive(Debug)]
pub(crate) struct ValidIntrospection {
    pub(crate) endpoint: Option<Url>,
    pub(crate) client_id: String,
    pub(crate) client_secret: ClientSecret,
    pub(crate) cache_ttl: Duration,
    pub(crate) cache_capacity: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct ValidCookies {
    pub(crate) header_payload: String,
    pub(crate) signature: String,
    pub(crate) csrf_cookie: String,
    pub(crate) csrf_header: axum::http::HeaderName,
}

impl TryFrom<GuardConfig> for Settings {
    type Error = ConfigError;

    fn try_from(c: GuardConfig) -> Result<Self, ConfigError> {
        let plain_http = c.danger.allow_plain_http;
        if c.issuer.trim().is_empty() {
            return Err(ConfigError::Empty("issuer"));
        }
        if c.audience.is_empty() {
            return Err(ConfigError::Empty("audience"));
        }
        if c.algorithms.is_empty() {
            return Err(ConfigError::Empty("algorithms"));
        }
        if c.jwks_max_staleness < c.jwks_refresh_after {
            return Err(ConfigError::Staleness);
        }
        let issuer = parse_url("issuer", &c.issuer, plain_http)?;
        let keys = match c.keys {
            KeySource::Discovery => ValidKeySource::Discovery,
            KeySource::JwksUri(uri) => {
                ValidKeySource::JwksUri(parse_url("keys.jwks_uri", &uri, plain_http)?)
            }
            KeySource::Static(set) => ValidKeySource::Static(set),
        };
        let introspection = c
            .introspection
            .map(|i| {
                if i.client_id.is_empty() {
                    return Err(ConfigError::Empty("introspection.client_id"));
                }
                let endpoint = i
                    .endpoint
                    .as_deref()
                    .map(|e| parse_url("introspection.endpoint", e, plain_http))
                    .transpose()?;
                Ok(ValidIntrospection {
                    endpoint,
                    client_id: i.client_id,
                    client_secret: i.client_secret,
                    cache_ttl: i.cache_ttl,
                    cache_capacity: i.cache_capacity,
                })
            })
            .transpose()?;
        let revocations = c
            .revocations
            .map(|r| ValidRevocationFeed::new(r, &c.issuer, plain_http))
            .transpose()?;
        let cookies = if c.cookies.enabled {
            Some(valid_cookies(c.cookies)?)
        } else {
            None
        };
        let validation = Validation {
            // The `iss` claim is compared as the configured string, not as a normalised URL.
            issuer: c.issuer,
            audience: c.audience,
            algorithms: c.algorithms,
            leeway_secs: i64::try_from(c.leeway.as_secs()).unwrap_or(i64::MAX),
            required_version_major: (!c.danger.skip_version_check)
                .then_some(c.required_version_major),
        };
        Ok(Settings {
            issuer,
            validation,
            keys,
            jwks_refresh_after: c.jwks_refresh_after,
            jwks_refetch_interval: c.jwks_refetch_interval,
            jwks_max_staleness: c.jwks_max_staleness,
            verification_cache_capacity: c.verification_cache_capacity,
            introspection,
            revocations,
            cookies,
            rejection_style: c.rejection_style,
            http_timeout: c.http_timeout,
            opaque_deprecated_since: c.opaque_deprecated_since,
            danger: c.danger,
        })
    }
}

fn valid_cookies(c: CookieConfig) -> Result<ValidCookies, ConfigError> {
    for (setting, value) in [
        ("cookies.header_payload", &c.header_payload),
        ("cookies.signature", &c.signature),
        ("cookies.csrf_cookie", &c.csrf_cookie),
    ] {
        if !is_token(value) {
            return Err(ConfigError::Name {
                setting,
                value: value.clone(),
            });
        }
    }
    let csrf_header = axum::http::HeaderName::try_from(c.csrf_header.as_str()).map_err(|_| {
        ConfigError::Name {
            setting: "cookies.csrf_header",
            value: c.csrf_header.clone(),
        }
    })?;
    Ok(ValidCookies {
        header_payload: c.header_payload,
        signature: c.signature,
        csrf_cookie: c.csrf_cookie,
        csrf_header,
    })
}

/// RFC 9110 §5.6.2 `token`, which RFC 6265 §4.1.1 uses for cookie names.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// An absolute `https` URL, or `http` for a loopback host (a test or a sidecar) or when allowed.
pub(crate) fn parse_url(
    setting: &'static str,
    value: &str,
    plain_http: bool,
) -> Result<Url, ConfigError> {
    let err = |reason| ConfigError::Url {
        setting,
        value: value.to_owned(),
        reason,
    };
    let url = Url::parse(value).map_err(|_| err("does not parse"))?;
    match url.scheme() {
        "https" | "http" if is_allowed_url(&url, plain_http) => Ok(url),
        "http" => Err(err(
            "plain http outside loopback needs dangerous().allow_plain_http()",
        )),
        _ => Err(err("scheme must be https")),
    }
}

/// Whether the guard may talk to `url`: `https`, or `http` to a loopback host or when allowed.
pub(crate) fn is_allowed_url(url: &Url, plain_http: bool) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => plain_http || is_loopback(url),
        _ => false,
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(c: GuardConfig) -> Result<Settings, ConfigError> {
        Settings::try_from(c)
    }

    #[test]
    fn defaults_validate() {
        let s = settings(GuardConfig::new(
            "https://lms.example.com/oauth2",
            "openedx",
        ))
        .unwrap();
        assert_eq!(s.validation.required_version_major, Some(1));
        assert_eq!(s.validation.leeway_secs, 30);
        assert_eq!(s.validation.algorithms, Algorithm::ALL.to_vec());
        assert!(s.cookies.is_some());
        assert!(s.introspection.is_none());
    }

    #[test]
    fn plain_http_only_on_loopback_unless_allowed() {
        assert!(settings(GuardConfig::new("http://127.0.0.1:8000/oauth2", "a")).is_ok());
        assert!(settings(GuardConfig::new("http://localhost/oauth2", "a")).is_ok());
        let err = settings(GuardConfig::new("http://lms.example.com/oauth2", "a")).unwrap_err();
        assert!(err.to_string().contains("`issuer`"), "{err}");
        let mut c = GuardConfig::new("http://lms.example.com/oauth2", "a");
        c.dangerous().allow_plain_http();
        assert!(settings(c).is_ok());
        assert!(settings(GuardConfig::new("ftp://x/", "a")).is_err());
        assert!(settings(GuardConfig::new("not a url", "a")).is_err());
    }

    #[test]
    fn names_the_bad_setting() {
        let mut c = GuardConfig::new("https://x/oauth2", "a");
        c.algorithms.clear();
        assert_eq!(settings(c).unwrap_err(), ConfigError::Empty("algorithms"));
        let mut c = GuardConfig::new("https://x/oauth2", "a");
        c.cookies.signature = "bad name;".into();
        assert!(matches!(
            settings(c),
            Err(ConfigError::Name {
                setting: "cookies.signature",
                ..
            })
        ));
        let mut c = GuardConfig::new("https://x/oauth2", "a");
        c.jwks_max_staleness = Duration::from_secs(1);
        assert_eq!(settings(c).unwrap_err(), ConfigError::Staleness);
        let mut c = GuardConfig::new("https://x/oauth2", "a");
        c.introspection = Some(IntrospectionConfig::new("", "s"));
        assert_eq!(
            settings(c).unwrap_err(),
            ConfigError::Empty("introspection.client_id")
        );
        assert!(settings(GuardConfig::new("https://x/oauth2", "")).is_err());
    }

    #[test]
    fn secrets_are_redacted() {
        let i = IntrospectionConfig::new("guard", "hunter2");
        assert!(!format!("{i:?}").contains("hunter2"));
    }
}
