//! [`Guard`]: the configured authenticator that the layer, the extractors and `Require` share.
//! It finds a request's credential, verifies it (JWT) or introspects it (opaque), checks a JWT
//! against the revocation feed when it follows one, and applies the CSRF rule to cookie
//! credentials. Route policies (scopes, filters, unverified users, restricted clients) are applied
//! later, by the extractors and [`Require`](crate::Require).

use std::sync::Arc;

use axum::http::{HeaderMap, Method};
use latchkey_token::VerifyingKeys;

use crate::config::{ConfigError, GuardConfig, Settings, ValidKeySource};
use crate::credentials::{self, CredentialError, CredentialSource, Presented};
use crate::csrf;
use crate::fetch::Issuer;
use crate::identity::{Authenticated, Verified};
use crate::introspect::{Introspector, OpaqueFailure};
use crate::jwks::{KeyStore, KeyTimings};
use crate::layer::GuardLayer;
use crate::rejection::{InvalidToken, Rejection, RejectionKind, RejectionStyle};
use crate::revocation::{Refusal, RevocationFeed};
use crate::stats::{Counter, GuardStats, Stats};
use crate::verify::{JwtFailure, JwtVerifier};

/// Authenticates requests for one issuer and audience. Cheap to clone (one `Arc`); build one per
/// service and hand [`Guard::layer`] to the router.
#[derive(Clone, Debug)]
pub struct Guard {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    jwt: JwtVerifier,
    introspector: Option<Introspector>,
    revocations: Option<RevocationFeed>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("issuer", &self.settings.validation.issuer)
            .field("audience", &self.settings.validation.audience)
            .field("keys", &self.jwt.keys)
            .field("revocations", &self.revocations)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// Validates `config` and builds the guard. No I/O happens here: keys are fetched on the
    /// first request that needs them (or by [`Guard::warm`]).
    pub fn new(config: GuardConfig) -> Result<Guard, ConfigError> {
        let mut settings = Settings::try_from(config)?;
        let stats = Arc::new(Stats::default());
        let issuer = Arc::new(
            Issuer::new(
                settings.issuer.clone(),
                settings.http_timeout,
                settings.danger.allow_plain_http,
            )
            .map_err(|e| ConfigError::Http(e.to_string()))?,
        );
        let timings = KeyTimings {
            refresh_after: settings.jwks_refresh_after,
            refetch_interval: settings.jwks_refetch_interval,
            max_staleness: settings.jwks_max_staleness,
        };
        let keys = match &settings.keys {
            ValidKeySource::Static(set) => {
                let keys = VerifyingKeys::from_jwk_set(set).map_err(|e| ConfigError::Name {
                    setting: "keys",
                    value: e.to_string(),
                })?;
                KeyStore::fixed(keys, timings, stats.clone())
            }
            ValidKeySource::JwksUri(uri) => {
                KeyStore::remote(issuer.clone(), Some(uri.clone()), timings, stats.clone())
            }
            ValidKeySource::Discovery => {
                KeyStore::remote(issuer.clone(), None, timings, stats.clone())
            }
        };
        let jwt = JwtVerifier {
            keys: Arc::new(keys),
            validation: settings.validation.clone(),
            cache: crate::cache::VerificationCache::new(
                settings.verification_cache_capacity,
                settings.validation.leeway_secs,
            ),
            stats: stats.clone(),
        };
        let introspector = settings.introspection.take().map(|config| {
            Introspector::new(
                config,
                issuer.clone(),
                settings.validation.issuer.clone(),
                settings.validation.audience.clone(),
                stats.clone(),
            )
        });
        let revocations = settings.revocations.take().map(|config| {
            RevocationFeed::new(
                config,
                issuer.clone(),
                settings.http_timeout,
                settings.validation.leeway_secs,
                stats.clone(),
            )
        });
        Ok(Guard {
            inner: Arc::new(Inner {
                settings,
                jwt,
                introspector,
                revocations,
                stats,
            }),
        })
    }

    /// The tower layer that authenticates every request under it; see [`GuardLayer`].
    pub fn layer(&self) -> GuardLayer {
        GuardLayer::new(self.clone())
    }

    /// Fetches the key set now and, when the guard follows the revocation feed, starts following
    /// it and waits for the first read, so that the first request does not wait for either.
    /// Fails if the issuer cannot be reached; the guard still works and tries again on later
    /// requests.
    pub async fn warm(&self) -> Result<(), Rejection> {
        let feed = async {
            match &self.inner.revocations {
                Some(feed) => feed.first_read().await,
                None => true,
            }
        };
        let (keys, read) = tokio::join!(self.inner.jwt.keys.warm(), feed);
        if keys.is_ok() && read {
            Ok(())
        } else {
            Err(self.reject(RejectionKind::Unavailable))
        }
    }

    /// What the guard has done so far.
    pub fn stats(&self) -> GuardStats {
        let mut stats = self.inner.stats.snapshot();
        if let Some(feed) = &self.inner.revocations {
            stats.revocation_cursor = feed.cursor();
            stats.revocation_feed_age = feed.age(now());
        }
        stats
    }

    /// The rejection style this guard answers in.
    pub fn rejection_style(&self) -> RejectionStyle {
        self.inner.settings.rejection_style
    }

    /// Authenticates a request from its method and headers, outside axum if need be.
    ///
    /// `Ok(None)` when the request carries no credential of ours; `Err` when it carries one that
    /// is not acceptable (or cannot be checked now). Route policies are not applied here.
    pub async fn authenticate(
        &self,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<Option<Authenticated>, Rejection> {
        let settings = &self.inner.settings;
        let found = credentials::find(headers, settings.cookies.as_ref()).map_err(|e| {
            self.reject(match e {
                CredentialError::MalformedJwt | CredentialError::MalformedCookies => {
                    RejectionKind::InvalidToken(InvalidToken::Malformed)
                }
                CredentialError::DuplicateAuthorization
                | CredentialError::MalformedAuthorization => RejectionKind::InvalidRequest(e),
            })
        })?;
        let Some(found) = found else {
            return Ok(None);
        };
        let now = now();
        let (verified, source) = match &found.presented {
            Presented::Jwt { token, source } => {
                let verified = self.inner.jwt.verify(token, now).await.map_err(|e| {
                    self.reject(match e {
                        JwtFailure::Invalid(reason) => RejectionKind::InvalidToken(reason),
                        JwtFailure::Unavailable => RejectionKind::Unavailable,
                    })
                })?;
                // After the verification cache too: a token cached as valid before its
                // revocation arrived is refused from then on.
                if let (Some(feed), Verified::Jwt(claims)) =
                    (&self.inner.revocations, verified.as_ref())
                {
                    feed.admit(claims, now).await.map_err(|refusal| {
                        self.reject(match refusal {
                            Refusal::Revoked => RejectionKind::InvalidToken(InvalidToken::Revoked),
                            Refusal::Stale => RejectionKind::Unavailable,
                        })
                    })?;
                }
                (verified, *source)
            }
            Presented::Opaque(token) => {
                let Some(introspector) = &self.inner.introspector else {
                    return Err(
                        self.reject(RejectionKind::InvalidToken(InvalidToken::OpaqueNotAccepted))
                    );
                };
                let verified = introspector.check(token, now).await.map_err(|e| {
                    self.reject(match e {
                        OpaqueFailure::Inactive => {
                            RejectionKind::InvalidToken(InvalidToken::Inactive)
                        }
                        OpaqueFailure::Unavailable => RejectionKind::Unavailable,
                    })
                })?;
                (verified, CredentialSource::OpaqueBearer)
            }
        };
        // Like edx-drf-extensions: the token first (an expired cookie gets 401, which tells the
        // front end to refresh), then CSRF.
        if source == CredentialSource::Cookies
            && !settings.danger.disable_cookie_csrf
            && !csrf::is_safe(method)
        {
            if let Some(cookies) = &settings.cookies {
                csrf::check(headers, &cookies.csrf_header, found.csrf_cookie)
                    .map_err(|f| self.reject(RejectionKind::Csrf(f)))?;
            }
        }
        let authenticated = Authenticated::new(verified, source, settings.rejection_style);
        if authenticated.is_deprecated() {
            self.inner.stats.count(Counter::DeprecatedOpaqueUse);
            tracing::info!(
                client_id = authenticated.client_id(),
                "latchkey-guard: deprecated opaque access token used"
            );
        }
        Ok(Some(authenticated))
    }

    /// The `Deprecation` header value (RFC 9745 §2: `@<unix seconds>`).
    pub(crate) fn deprecation_value(&self) -> String {
        format!("@{}", self.inner.settings.opaque_deprecated_since)
    }

    fn reject(&self, kind: RejectionKind) -> Rejection {
        Rejection::new(kind, self.inner.settings.rejection_style)
    }
}

/// Unix seconds. The guard is an edge: it reads the clock once per request and passes it down
/// (and its revocation follower once per answer).
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
