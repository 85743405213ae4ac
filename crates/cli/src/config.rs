//! Configuration: defaults, then a TOML file, then `LATCHKEY_*` environment variables, then
//! command-line flags; parsed once into a validated [`Config`]. A bad value stops start-up with a
//! message that names the setting and what it accepts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use latchkey_core::authz::AuthzSettings;
use latchkey_core::password::{PasswordParams, DEFAULT_QUEUE_PER_THREAD};
use latchkey_core::session::SessionSettings;
use latchkey_core::throttle::ThrottleSettings;
use latchkey_core::tokens::TokenSettings;
use latchkey_server::web::{origin_of, Branding, Colour, JwtCookieSettings};
use latchkey_server::{Cidr, ForwardedHeader, HttpSettings, TrustedProxies, WebSettings};
use serde::Deserialize;

/// The configuration as written: every field optional, unknown keys refused.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub issuer: Option<String>,
    /// 64 hex characters; overrides `key_file`. Every node of one installation needs the same key.
    pub secret_key: Option<Redacted>,
    pub key_file: Option<PathBuf>,
    pub log: Option<String>,
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub tokens: RawTokens,
    #[serde(default)]
    pub passwords: RawPasswords,
    #[serde(default)]
    pub throttle: RawThrottle,
    #[serde(default)]
    pub janitor: RawJanitor,
    #[serde(default)]
    pub authz: RawAuthz,
    #[serde(default)]
    pub proxy: RawProxy,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub session: RawSession,
    #[serde(default)]
    pub jwt_cookie: RawJwtCookie,
    #[serde(default)]
    pub cors: RawCors,
    #[serde(default)]
    pub branding: RawBranding,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    pub cookie_name: Option<String>,
    pub idle_secs: Option<i64>,
    pub remember_secs: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJwtCookie {
    pub header_payload_name: Option<String>,
    pub signature_name: Option<String>,
    pub domain: Option<String>,
    pub lifetime_secs: Option<i64>,
    pub login_client_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCors {
    pub origins: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBranding {
    pub product_name: Option<String>,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub background_color: Option<String>,
}

/// A setting's text that `Debug` never shows (the master secret).
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Redacted(String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The installation's master secret as configured; `Debug` never shows it.
#[derive(Clone, Copy)]
pub struct MasterKey(pub [u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProxy {
    /// Address blocks of the reverse proxies whose forwarding header names the client.
    pub trusted: Option<Vec<String>>,
    /// `x-forwarded-for` (the default) or `forwarded` (RFC 7239).
    pub header: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokens {
    pub audience: Option<String>,
    pub jwt_lifetime: Option<i64>,
    pub opaque_lifetime: Option<i64>,
    pub refresh_lifetime: Option<i64>,
    pub refresh_family_lifetime: Option<i64>,
    pub refresh_grace: Option<i64>,
    pub service_jwt_max_lifetime: Option<i64>,
    pub introspection_cache: Option<u64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPasswords {
    pub memory_kib: Option<u32>,
    pub iterations: Option<u32>,
    pub parallelism: Option<u32>,
    pub queue_per_core: Option<usize>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThrottle {
    pub account_failures: Option<u32>,
    pub ip_failures: Option<u32>,
    pub window_secs: Option<i64>,
    pub ip_in_flight: Option<u32>,
    pub max_tracked: Option<usize>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJanitor {
    pub interval_secs: Option<u64>,
    pub batch: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuthz {
    pub domain_matching: Option<bool>,
    pub staff_deny_parity: Option<bool>,
    pub cache_capacity: Option<usize>,
    pub default_policy: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub header_timeout_secs: Option<u64>,
    pub body_timeout_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub max_connections: Option<usize>,
}

/// Settings given as command-line flags, which override every other source.
#[derive(Clone, Debug, Default)]
pub struct Flags {
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub issuer: Option<String>,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub secret_key: Option<MasterKey>,
    pub key_file: PathBuf,
    pub log: String,
    pub extra_scopes: Vec<String>,
    pub tokens: TokenSettings,
    pub passwords: PasswordParams,
    pub hashing_queue_per_thread: usize,
    pub throttle: ThrottleSettings,
    pub proxies: TrustedProxies,
    pub janitor_interval: Duration,
    pub janitor_batch: u32,
    pub authz: AuthzSettings,
    pub http: HttpSettings,
    pub sessions: SessionSettings,
    /// Cookies, CORS and branding of the browser endpoints.
    pub web: WebSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Parse(String),
    #[error("setting `{name}` = {value:?} is invalid: {allowed}")]
    Invalid {
        name: &'static str,
        value: String,
        allowed: &'static str,
    },
}

/// Top-level keys environment variables may set (`LATCHKEY_TOKENS__JWT_LIFETIME` sets
/// `tokens.jwt_lifetime`); other `LATCHKEY_*` variables (e.g. `LATCHKEY_CONFIG`) are not settings.
const ENV_KEYS: &[&str] = &[
    "database_url",
    "listen",
    "issuer",
    "secret_key",
    "key_file",
    "log",
    "scopes",
    "tokens",
    "passwords",
    "throttle",
    "janitor",
    "authz",
    "proxy",
    "http",
    "session",
    "jwt_cookie",
    "cors",
    "branding",
];

impl Config {
    /// Reads `file` (when given), the environment, and `flags`, in rising priority.
    pub fn load(file: Option<&Path>, flags: Flags) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            // Read it ourselves: figment treats a missing file as empty, and we must not.
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
                path: path.display().to_string(),
                source,
            })?;
            figment = figment.merge(Toml::string(&text));
        }
        let env = Env::prefixed("LATCHKEY_").split("__").filter(|k| {
            let key = k.as_str().to_ascii_lowercase();
            ENV_KEYS.iter().any(|known| key.starts_with(known))
        });
        figment = figment.merge(env);
        for (key, value) in [
            ("database_url", flags.database_url),
            ("listen", flags.listen),
            ("issuer", flags.issuer),
        ] {
            if let Some(value) = value {
                figment = figment.merge(Serialized::default(key, value));
            }
        }
        let raw: RawConfig = figment
            .extract()
            .map_err(|e| ConfigError::Parse(describe(e)))?;
        Config::try_from(raw)
    }
}

fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let path = e.path.join(".");
            if path.is_empty() {
                e.kind.to_string()
            } else {
                format!("`{path}`: {}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn lifetime(name: &'static str, v: Option<i64>, default: i64) -> Result<i64, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) if (1..=31_536_000).contains(&s) => Ok(s),
        Some(s) => Err(ConfigError::Invalid {
            name,
            value: s.to_string(),
            allowed: "a number of seconds from 1 to 31536000",
        }),
    }
}

fn http_timeout(
    name: &'static str,
    v: Option<u64>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) if (1..=3600).contains(&s) => Ok(Duration::from_secs(s)),
        Some(s) => Err(ConfigError::Invalid {
            name,
            value: s.to_string(),
            allowed: "a number of seconds from 1 to 3600",
        }),
    }
}

impl TryFrom<RawHttp> for HttpSettings {
    type Error = ConfigError;

    fn try_from(raw: RawHttp) -> Result<Self, Self::Error> {
        let d = HttpSettings::default();
        Ok(HttpSettings {
            header_timeout: http_timeout(
                "http.header_timeout_secs",
                raw.header_timeout_secs,
                d.header_timeout,
            )?,
            body_timeout: http_timeout(
                "http.body_timeout_secs",
                raw.body_timeout_secs,
                d.body_timeout,
            )?,
            idle_timeout: http_timeout(
                "http.idle_timeout_secs",
                raw.idle_timeout_secs,
                d.idle_timeout,
            )?,
            max_connections: match raw.max_connections {
                None => d.max_connections,
                Some(n) if (1..=1_000_000).contains(&n) => n,
                Some(n) => {
                    return Err(ConfigError::Invalid {
                        name: "http.max_connections",
                        value: n.to_string(),
                        allowed: "a number of connections from 1 to 1000000",
                    })
                }
            },
        })
    }
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, Self::Error> {
        let listen_text = raw.listen.unwrap_or_else(|| "127.0.0.1:8000".into());
        let listen = listen_text.parse().map_err(|_| ConfigError::Invalid {
            name: "listen",
            value: listen_text.clone(),
            allowed: "an IP address and port, e.g. 127.0.0.1:8000",
        })?;
        let issuer = raw
            .issuer
            .unwrap_or_else(|| "http://127.0.0.1:8000/oauth2".into());
        if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
            return Err(ConfigError::Invalid {
                name: "issuer",
                value: issuer,
                allowed: "an absolute http(s) URL, e.g. https://auth.example.org/oauth2",
            });
        }
        let database_url = raw
            .database_url
            .unwrap_or_else(|| "sqlite://latchkey.db".into());
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            return Err(ConfigError::Invalid {
                name: "database_url",
                value: database_url,
                allowed: "sqlite://PATH or postgres://USER@HOST/DATABASE",
            });
        }
        let secret_key = match raw.secret_key {
            None => None,
            Some(Redacted(hex_key)) => Some(MasterKey(parse_key(&hex_key).ok_or(
                ConfigError::Invalid {
                    name: "secret_key",
                    value: "<redacted>".into(),
                    allowed: "64 hexadecimal characters (32 bytes)",
                },
            )?)),
        };
        let t = raw.tokens;
        let defaults = TokenSettings::default();
        let tokens = TokenSettings {
            issuer: issuer.trim_end_matches('/').to_owned(),
            audience: t.audience.unwrap_or(defaults.audience),
            jwt_lifetime: lifetime("tokens.jwt_lifetime", t.jwt_lifetime, defaults.jwt_lifetime)?,
            opaque_lifetime: lifetime(
                "tokens.opaque_lifetime",
                t.opaque_lifetime,
                defaults.opaque_lifetime,
            )?,
            refresh_lifetime: lifetime(
                "tokens.refresh_lifetime",
                t.refresh_lifetime,
                defaults.refresh_lifetime,
            )?,
            refresh_family_lifetime: t
                .refresh_family_lifetime
                .map(|v| lifetime("tokens.refresh_family_lifetime", Some(v), 0))
                .transpose()?,
            refresh_grace: match t.refresh_grace {
                None => defaults.refresh_grace,
                Some(g) if (0..=300).contains(&g) => g,
                Some(g) => {
                    return Err(ConfigError::Invalid {
                        name: "tokens.refresh_grace",
                        value: g.to_string(),
                        allowed: "a number of seconds from 0 to 300",
                    })
                }
            },
            service_jwt_max_lifetime: lifetime(
                "tokens.service_jwt_max_lifetime",
                t.service_jwt_max_lifetime,
                defaults.service_jwt_max_lifetime,
            )?,
            client_cache_ttl: defaults.client_cache_ttl,
            introspection_cache_ttl: match t.introspection_cache {
                None => defaults.introspection_cache_ttl,
                Some(s) if s <= 60 => std::time::Duration::from_secs(s),
                Some(s) => {
                    return Err(ConfigError::Invalid {
                        name: "tokens.introspection_cache",
                        value: s.to_string(),
                        allowed: "a number of seconds from 0 (off) to 60",
                    })
                }
            },
        };
        let p = raw.passwords;
        let pd = PasswordParams::default();
        let passwords = PasswordParams {
            memory_kib: p.memory_kib.unwrap_or(pd.memory_kib),
            iterations: p.iterations.unwrap_or(pd.iterations),
            parallelism: p.parallelism.unwrap_or(pd.parallelism),
        };
        if passwords.memory_kib < 8 * passwords.parallelism.max(1) || passwords.iterations < 1 {
            return Err(ConfigError::Invalid {
                name: "passwords",
                value: format!("{passwords:?}"),
                allowed: "memory_kib >= 8 x parallelism and iterations >= 1",
            });
        }
        let hashing_queue_per_thread = ranged(
            "passwords.queue_per_core",
            p.queue_per_core,
            DEFAULT_QUEUE_PER_THREAD,
            1..=4096,
            "a number of waiting password checks per core from 1 to 4096",
        )?;
        let th = raw.throttle;
        let td = ThrottleSettings::default();
        let throttle = ThrottleSettings {
            account_failures: th.account_failures.unwrap_or(td.account_failures),
            ip_failures: th.ip_failures.unwrap_or(td.ip_failures),
            window_secs: lifetime("throttle.window_secs", th.window_secs, td.window_secs)?,
            ip_in_flight: ranged(
                "throttle.ip_in_flight",
                th.ip_in_flight,
                td.ip_in_flight,
                1..=10_000,
                "a number of sign-ins in flight per client address from 1 to 10000",
            )?,
            max_tracked: ranged(
                "throttle.max_tracked",
                th.max_tracked,
                td.max_tracked,
                100..=100_000_000,
                "a number of tracked accounts or addresses from 100 to 100000000",
            )?,
        };
        let proxies = TrustedProxies {
            proxies: raw
                .proxy
                .trusted
                .unwrap_or_default()
                .iter()
                .map(|block| {
                    block.parse::<Cidr>().map_err(|_| ConfigError::Invalid {
                        name: "proxy.trusted",
                        value: block.clone(),
                        allowed: "address blocks like 10.0.0.0/8, fd00::/8 or 192.0.2.7",
                    })
                })
                .collect::<Result<_, _>>()?,
            header: match raw.proxy.header {
                None => ForwardedHeader::default(),
                Some(h) => h.parse().map_err(|_| ConfigError::Invalid {
                    name: "proxy.header",
                    value: h,
                    allowed: "x-forwarded-for or forwarded",
                })?,
            },
        };
        let interval = raw.janitor.interval_secs.unwrap_or(60);
        if interval == 0 {
            return Err(ConfigError::Invalid {
                name: "janitor.interval_secs",
                value: "0".into(),
                allowed: "a positive number of seconds",
            });
        }
        let (sessions, web) = browser_settings(
            &raw.session,
            &raw.jwt_cookie,
            &raw.cors,
            &raw.branding,
            &tokens.issuer,
        )?;
        let a = raw.authz;
        let mut authz = AuthzSettings::default();
        authz.engine.domain_matching = a.domain_matching.unwrap_or(false);
        authz.engine.staff_deny_parity = a.staff_deny_parity.unwrap_or(false);
        authz.cache_capacity = a.cache_capacity.unwrap_or(authz.cache_capacity);
        authz.default_policy = a.default_policy.unwrap_or(authz.default_policy);
        Ok(Config {
            database_url,
            listen,
            secret_key,
            key_file: raw
                .key_file
                .unwrap_or_else(|| PathBuf::from("latchkey.key")),
            log: raw.log.unwrap_or_else(|| "info".into()),
            extra_scopes: raw.scopes.unwrap_or_default(),
            tokens,
            passwords,
            hashing_queue_per_thread,
            throttle,
            proxies,
            janitor_interval: Duration::from_secs(interval),
            janitor_batch: raw.janitor.batch.unwrap_or(1000).max(1),
            authz,
            http: HttpSettings::try_from(raw.http)?,
            sessions,
            web,
        })
    }
}

/// `[session]`, `[jwt_cookie]`, `[cors]` and `[branding]`, for an issuer already checked.
fn browser_settings(
    s: &RawSession,
    j: &RawJwtCookie,
    c: &RawCors,
    b: &RawBranding,
    issuer: &str,
) -> Result<(SessionSettings, WebSettings), ConfigError> {
    let sd = SessionSettings::default();
    let remember = ranged(
        "session.remember_secs",
        s.remember_secs,
        sd.remember,
        60..=31_536_000,
        "a number of seconds from 60 to 31536000",
    )?;
    let idle = ranged(
        "session.idle_secs",
        s.idle_secs,
        sd.idle.min(remember),
        60..=remember,
        "a number of seconds from 60 to session.remember_secs",
    )?;
    let sessions = SessionSettings {
        idle,
        remember,
        touch_interval: sd.touch_interval.min(idle / 2),
    };
    let mut web = WebSettings::for_issuer(issuer);
    let jd = JwtCookieSettings::default();
    let name = |setting: &'static str, v: &Option<String>, d: String| match v {
        None => Ok(d),
        Some(n) if is_cookie_name(n) => Ok(n.clone()),
        Some(n) => Err(ConfigError::Invalid {
            name: setting,
            value: n.clone(),
            allowed: "a cookie name: 1 to 64 letters, digits and !#$%&'*+-.^_`|~",
        }),
    };
    web.session_cookie_name = name(
        "session.cookie_name",
        &s.cookie_name,
        web.session_cookie_name,
    )?;
    web.jwt_cookies = JwtCookieSettings {
        header_payload_name: name(
            "jwt_cookie.header_payload_name",
            &j.header_payload_name,
            jd.header_payload_name,
        )?,
        signature_name: name(
            "jwt_cookie.signature_name",
            &j.signature_name,
            jd.signature_name,
        )?,
        domain: match &j.domain {
            None => None,
            Some(d) if cookie_domain_fits(d, issuer) => Some(d.clone()),
            Some(d) => {
                return Err(ConfigError::Invalid {
                    name: "jwt_cookie.domain",
                    value: d.clone(),
                    allowed: "a domain that contains the issuer's host, e.g. .example.org for \
                              auth.example.org",
                })
            }
        },
        lifetime: ranged(
            "jwt_cookie.lifetime_secs",
            j.lifetime_secs,
            jd.lifetime,
            60..=86_400,
            "a number of seconds from 60 to 86400",
        )?,
        login_client_id: match &j.login_client_id {
            None => jd.login_client_id,
            Some(id) if !id.is_empty() && id.len() <= 100 && !id.contains(char::is_whitespace) => {
                id.clone()
            }
            Some(id) => {
                return Err(ConfigError::Invalid {
                    name: "jwt_cookie.login_client_id",
                    value: id.clone(),
                    allowed: "a client id: 1 to 100 characters, no spaces",
                })
            }
        },
    };
    let names = [
        &web.session_cookie_name,
        &web.jwt_cookies.header_payload_name,
        &web.jwt_cookies.signature_name,
    ];
    let clash = names
        .iter()
        .enumerate()
        .any(|(i, a)| *a == "csrftoken" || names[i + 1..].contains(a));
    if clash {
        return Err(ConfigError::Invalid {
            name: "session.cookie_name",
            value: names
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            allowed: "the session and JWT cookie names must differ from each other and from \
                      csrftoken",
        });
    }
    web.cors_origins = c
        .origins
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|o| {
            let exact = (o.starts_with("https://") || o.starts_with("http://"))
                && origin_of(&o).as_deref() == Some(o.as_str());
            if exact {
                Ok(o)
            } else {
                Err(ConfigError::Invalid {
                    name: "cors.origins",
                    value: o,
                    allowed: "origins like https://apps.example.org (scheme, host, optional \
                              port; no path, no wildcard)",
                })
            }
        })
        .collect::<Result<_, _>>()?;
    let bd = Branding::default();
    let colour = |setting: &'static str, v: &Option<String>, d: Colour| match v {
        None => Ok(d),
        Some(text) => text.parse::<Colour>().map_err(|_| ConfigError::Invalid {
            name: setting,
            value: text.clone(),
            allowed: "a colour like #0a3d91",
        }),
    };
    let branding = Branding {
        product_name: match &b.product_name {
            None => bd.product_name,
            Some(n) if !n.trim().is_empty() && n.chars().count() <= 100 => n.clone(),
            Some(n) => {
                return Err(ConfigError::Invalid {
                    name: "branding.product_name",
                    value: n.clone(),
                    allowed: "1 to 100 characters",
                })
            }
        },
        logo_url: match &b.logo_url {
            None => None,
            Some(u) if is_logo_url(u) => Some(u.clone()),
            Some(u) => {
                return Err(ConfigError::Invalid {
                    name: "branding.logo_url",
                    value: u.clone(),
                    allowed: "an https:// URL or a path on this server starting with /",
                })
            }
        },
        primary_color: colour("branding.primary_color", &b.primary_color, bd.primary_color)?,
        background_color: colour(
            "branding.background_color",
            &b.background_color,
            bd.background_color,
        )?,
    };
    if let Some((name, problem)) = branding.contrast_problem() {
        return Err(ConfigError::Invalid {
            name,
            value: format!(
                "{} on {}",
                branding.primary_color, branding.background_color
            ),
            allowed: problem,
        });
    }
    web.branding = std::sync::Arc::new(branding);
    Ok((sessions, web))
}

/// RFC 6265 §4.1.1's cookie-name (an RFC 2616 token), at most 64 characters.
fn is_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Browsers drop a cookie whose `Domain` does not contain the host that sets it.
fn cookie_domain_fits(domain: &str, issuer: &str) -> bool {
    let bare = domain.strip_prefix('.').unwrap_or(domain);
    let host = origin_of(issuer)
        .and_then(|o| o.split_once("://").map(|(_, a)| a.to_owned()))
        .map(|a| a.rsplit_once(':').map_or(a.clone(), |(h, _)| h.to_owned()))
        .unwrap_or_default();
    !bare.is_empty()
        && bare.contains('.')
        && bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && (host.eq_ignore_ascii_case(bare)
            || host
                .to_ascii_lowercase()
                .ends_with(&format!(".{}", bare.to_ascii_lowercase())))
}

/// What the pages' CSP lets an image come from: HTTPS anywhere, or this server.
fn is_logo_url(url: &str) -> bool {
    let safe = !url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '"');
    safe && (url.starts_with("https://") || (url.starts_with('/') && !url.starts_with("//")))
}

fn ranged<T: PartialOrd + std::fmt::Display + Copy>(
    name: &'static str,
    value: Option<T>,
    default: T,
    range: std::ops::RangeInclusive<T>,
    allowed: &'static str,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) if range.contains(&v) => Ok(v),
        Some(v) => Err(ConfigError::Invalid {
            name,
            value: v.to_string(),
            allowed,
        }),
    }
}

fn parse_key(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = Config::load(None, Flags::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(c.tokens.issuer, "http://127.0.0.1:8000/oauth2");
        assert_eq!(c.tokens.jwt_lifetime, 3600);
        assert_eq!(c.passwords, PasswordParams::default());
    }

    #[test]
    fn an_unknown_key_is_named() {
        let f = write("[tokens]\njwt_lifetim = 5\n");
        let err = Config::load(Some(f.path()), Flags::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("jwt_lifetim"), "{text}");
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let err =
            Config::load(Some(Path::new("/no/such/latchkey.toml")), Flags::default()).unwrap_err();
        assert!(err.to_string().contains("/no/such/latchkey.toml"), "{err}");
    }

    #[test]
    fn bad_values_name_the_setting_and_what_is_allowed() {
        let f = write("listen = \"nowhere\"\n");
        let err = Config::load(Some(f.path()), Flags::default()).unwrap_err();
        assert!(err.to_string().contains("`listen`"), "{err}");
        let f = write("[tokens]\nrefresh_grace = 900\n");
        let err = Config::load(Some(f.path()), Flags::default()).unwrap_err();
        assert!(err.to_string().contains("tokens.refresh_grace"), "{err}");
        let f = write("database_url = \"mysql://x\"\n");
        let err = Config::load(Some(f.path()), Flags::default()).unwrap_err();
        assert!(err.to_string().contains("database_url"), "{err}");
        let f = write("[tokens]\njwt_lifetime = \"soon\"\n");
        let err = Config::load(Some(f.path()), Flags::default()).unwrap_err();
        assert!(err.to_string().contains("jwt_lifetime"), "{err}");
        let f = write("[tokens]\nintrospection_cache = 61\n");
        let err = Config::load(Some(f.path()), Flags::default()).unwrap_err();
        assert!(
            err.to_string().contains("tokens.introspection_cache"),
            "{err}"
        );
    }

    #[test]
    fn the_introspection_cache_defaults_to_two_seconds_and_zero_turns_it_off() {
        let c = Config::load(None, Flags::default()).unwrap();
        assert_eq!(
            c.tokens.introspection_cache_ttl,
            std::time::Duration::from_secs(2)
        );
        let f = write("[tokens]\nintrospection_cache = 0\n");
        let c = Config::load(Some(f.path()), Flags::default()).unwrap();
        assert_eq!(c.tokens.introspection_cache_ttl, std::time::Duration::ZERO);
    }

    #[test]
    fn debug_never_shows_the_master_secret() {
        let key = "ab".repeat(32);
        let f = write(&format!("secret_key = \"{key}\"\n"));
        let c = Config::load(Some(f.path()), Flags::default()).unwrap();
        assert!(c.secret_key.is_some());
        let shown = format!("{c:?}");
        assert!(
            !shown.contains(&key) && !shown.contains("171, 171"),
            "{shown}"
        );
        let raw: RawConfig = toml_raw(&format!("secret_key = \"{key}\"\n"));
        assert!(!format!("{raw:?}").contains(&key));
    }

    fn toml_raw(text: &str) -> RawConfig {
        Figment::new().merge(Toml::string(text)).extract().unwrap()
    }

    #[test]
    fn trusted_proxies_and_their_header_are_read_and_checked() {
        let f =
            write("[proxy]\ntrusted = [\"10.0.0.0/8\", \"fd00::/8\"]\nheader = \"forwarded\"\n");
        let c = Config::load(Some(f.path()), Flags::default()).unwrap();
        assert_eq!(c.proxies.proxies.len(), 2);
        assert_eq!(c.proxies.header, ForwardedHeader::Forwarded);
        let f = write("[proxy]\ntrusted = [\"10.0.0.0/40\"]\n");
        let err = Config::load(Some(f.path()), Flags::default()).unwrap_err();
        assert!(err.to_string().contains("proxy.trusted"), "{err}");
        let f = write("[proxy]\nheader = \"x-real-ip\"\n");
        let err = Config::load(Some(f.path()), Flags::default()).unwrap_err();
        assert!(err.to_string().contains("proxy.header"), "{err}");
        let none = Config::load(None, Flags::default()).unwrap();
        assert!(none.proxies.proxies.is_empty());
    }

    #[test]
    fn the_hashing_queue_and_in_flight_cap_are_bounded_settings() {
        let c = Config::load(None, Flags::default()).unwrap();
        assert_eq!(c.hashing_queue_per_thread, DEFAULT_QUEUE_PER_THREAD);
        assert_eq!(
            c.throttle.ip_in_flight,
            ThrottleSettings::default().ip_in_flight
        );
        for (text, name) in [
            (
                "[passwords]\nqueue_per_core = 0\n",
                "passwords.queue_per_core",
            ),
            ("[throttle]\nip_in_flight = 0\n", "throttle.ip_in_flight"),
            ("[throttle]\nmax_tracked = 5\n", "throttle.max_tracked"),
        ] {
            let f = write(text);
            let err = Config::load(Some(f.path()), Flags::default()).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn http_limits_have_defaults_and_are_checked() {
        let c = Config::load(None, Flags::default()).unwrap();
        assert_eq!(c.http, HttpSettings::default());
        assert_eq!(c.http.header_timeout, Duration::from_secs(10));
        assert_eq!(c.http.max_connections, 10_000);
        let f = write("[http]\nheader_timeout_secs = 2\nmax_connections = 50\n");
        let c = Config::load(Some(f.path()), Flags::default()).unwrap();
        assert_eq!(
            (c.http.header_timeout, c.http.max_connections),
            (Duration::from_secs(2), 50)
        );
        for (text, name) in [
            ("header_timeout_secs = 0", "http.header_timeout_secs"),
            ("body_timeout_secs = 3601", "http.body_timeout_secs"),
            ("idle_timeout_secs = 0", "http.idle_timeout_secs"),
            ("max_connections = 0", "http.max_connections"),
            ("max_conections = 5", "max_conections"),
        ] {
            let f = write(&format!("[http]\n{text}\n"));
            let err = Config::load(Some(f.path()), Flags::default()).unwrap_err();
            assert!(err.to_string().contains(name), "{text}: {err}");
        }
    }

    #[test]
    fn browser_settings_have_defaults_and_are_checked() {
        let c = Config::load(None, Flags::default()).unwrap();
        assert_eq!(c.sessions, SessionSettings::default());
        assert_eq!(c.web.session_cookie_name, "sessionid");
        assert_eq!(c.web.jwt_cookies, JwtCookieSettings::default());
        assert!(c.web.cors_origins.is_empty() && !c.web.secure);
        let f = write(
            "issuer = \"https://auth.example.org/oauth2\"\n\
             [session]\nidle_secs = 900\n\
             [jwt_cookie]\ndomain = \".example.org\"\n\
             [cors]\norigins = [\"https://apps.example.org\"]\n\
             [branding]\nproduct_name = \"Example\"\nprimary_color = \"#003366\"\n",
        );
        let c = Config::load(Some(f.path()), Flags::default()).unwrap();
        assert_eq!(c.sessions.idle, 900);
        assert!(c.web.secure);
        assert_eq!(c.web.jwt_cookies.domain.as_deref(), Some(".example.org"));
        assert_eq!(c.web.cors_origins, ["https://apps.example.org"]);
        assert_eq!(c.web.branding.product_name, "Example");
        for (text, name) in [
            ("[session]\nidle_secs = 10", "session.idle_secs"),
            (
                "[session]\nremember_secs = 600\nidle_secs = 700",
                "session.idle_secs",
            ),
            ("[session]\ncookie_name = \"a b\"", "session.cookie_name"),
            (
                "[session]\ncookie_name = \"csrftoken\"",
                "session.cookie_name",
            ),
            ("[jwt_cookie]\ndomain = \".evil.net\"", "jwt_cookie.domain"),
            (
                "[jwt_cookie]\nlifetime_secs = 0",
                "jwt_cookie.lifetime_secs",
            ),
            (
                "[jwt_cookie]\nsignature_name = \"x;y\"",
                "jwt_cookie.signature_name",
            ),
            (
                "[jwt_cookie]\nlogin_client_id = \"\"",
                "jwt_cookie.login_client_id",
            ),
            ("[cors]\norigins = [\"*\"]", "cors.origins"),
            ("[cors]\norigins = [\"https://a.org/\"]", "cors.origins"),
            ("[cors]\norigins = [\"null\"]", "cors.origins"),
            (
                "[branding]\nprimary_color = \"red\"",
                "branding.primary_color",
            ),
            (
                "[branding]\nprimary_color = \"#ffeb3b\"",
                "branding.primary_color",
            ),
            (
                "[branding]\nbackground_color = \"#000000\"",
                "branding.background_color",
            ),
            (
                "[branding]\nlogo_url = \"javascript:x\"",
                "branding.logo_url",
            ),
            (
                "[branding]\nlogo_url = \"//evil.net/x.png\"",
                "branding.logo_url",
            ),
            ("[branding]\nproduct_name = \"\"", "branding.product_name"),
        ] {
            let f = write(&format!("{text}\n"));
            let err = Config::load(Some(f.path()), Flags::default()).unwrap_err();
            assert!(err.to_string().contains(name), "{text}: {err}");
        }
    }

    #[test]
    fn flags_override_the_file() {
        let f = write("listen = \"127.0.0.1:9000\"\n[tokens]\njwt_lifetime = 60\n");
        let flags = Flags {
            listen: Some("127.0.0.1:9001".into()),
            ..Flags::default()
        };
        let c = Config::load(Some(f.path()), flags).unwrap();
        assert_eq!(c.listen.port(), 9001);
        assert_eq!(c.tokens.jwt_lifetime, 60);
    }
}
