//! Deprecated opaque bearer tokens, checked by RFC 7662 introspection with the guard's own
//! confidential client, and cached until the token's `exp` or the configured TTL, whichever
//! comes first. Concurrent requests with the same token share one introspection call.
//!
//! Only active answers are cached: an inactive token costs one call per request, as it should
//! (a client that keeps sending one has a bug to notice).

use std::sync::Arc;
use std::time::Duration;

use latchkey_proto::{IntrospectionResponse, TOKEN_TYPE_BEARER};
use reqwest::Url;
use serde::Deserialize;

use crate::cache::{token_key, Entry, TokenKey, UntilExpiry};
use crate::config::{ClientSecret, ValidIntrospection};
use crate::fetch::{Credentials, Issuer};
use crate::identity::{Introspected, Verified};
use crate::stats::{Counter, Stats};

/// Why an opaque token was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpaqueFailure {
    /// Introspection says inactive, or the answer is not for an access token of ours.
    Inactive,
    /// The introspection endpoint cannot be reached or answered nonsense.
    Unavailable,
}

/// RFC 7662 §2.2's answer, plus the members that let the guard apply its policies to opaque
/// tokens as it does to JWTs, when the server sends them.
#[derive(Deserialize)]
struct Answer {
    #[serde(flatten)]
    base: IntrospectionResponse,
    #[serde(default)]
    filters: Vec<String>,
    #[serde(default)]
    is_restricted: bool,
    #[serde(default)]
    email_verified: Option<bool>,
}

pub(crate) struct Introspector {
    issuer: Arc<Issuer>,
    endpoint: Option<Url>,
    client_id: String,
    client_secret: ClientSecret,
    ttl: Duration,
    expected_issuer: String,
    audience: String,
    cache: moka::future::Cache<TokenKey, Entry>,
    stats: Arc<Stats>,
}

impl Introspector {
    pub(crate) fn new(
        config: ValidIntrospection,
        issuer: Arc<Issuer>,
        expected_issuer: String,
        audience: String,
        stats: Arc<Stats>,
    ) -> Self {
        Introspector {
            issuer,
            endpoint: config.endpoint,
            client_id: config.client_id,
            client_secret: config.client_secret,
            ttl: config.cache_ttl,
            expected_issuer,
            audience,
            cache: moka::future::Cache::builder()
                .max_capacity(config.cache_capacity)
                .expire_after(UntilExpiry)
                .build(),
            stats,
        }
    }

    /// What the server says about `token` at `now`.
    pub(crate) async fn check(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Arc<Verified>, OpaqueFailure> {
        let key = token_key(token);
        if let Some(verified) = self.cache.get(&key).await.and_then(|e| e.live(now, 0)) {
            self.stats.count(Counter::CacheHit);
            return Ok(verified);
        }
        let entry = self
            .cache
            .try_get_with(key, self.ask(token, now))
            .await
            .map_err(|e| *e)?;
        match entry.live(now, 0) {
            Some(verified) => Ok(verified),
            None => {
                self.cache.invalidate(&key).await;
                Err(OpaqueFailure::Inactive)
            }
        }
    }

    async fn ask(&self, token: &str, now: i64) -> Result<Entry, OpaqueFailure> {
        let endpoint = match &self.endpoint {
            Some(url) => url.clone(),
            None => self
                .issuer
                .endpoints()
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "latchkey-guard: discovery failed");
                    OpaqueFailure::Unavailable
                })?
                .introspection_endpoint
                .clone()
                .ok_or_else(|| {
                    tracing::warn!("latchkey-guard: the issuer names no introspection endpoint");
                    OpaqueFailure::Unavailable
                })?,
        };
        self.stats.count(Counter::Introspection);
        let form = [("token", token), ("token_type_hint", "access_token")];
        let answer: Answer = self
            .issuer
            .post_form_json(
                &endpoint,
                &form,
                Credentials {
                    id: &self.client_id,
                    secret: &self.client_secret,
                },
            )
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "latchkey-guard: introspection failed");
                OpaqueFailure::Unavailable
            })?;
        let introspected = self.accept(answer, now).ok_or(OpaqueFailure::Inactive)?;
        let exp = introspected.exp;
        let verified = Arc::new(Verified::Opaque(introspected));
        Ok(Entry::new(verified, exp, now, 0, Some(self.ttl)))
    }

    /// The answer's identity, if it describes an active access token of our issuer and audience
    /// (a refresh token is active too, but is not a credential for an API).
    fn accept(&self, answer: Answer, now: i64) -> Option<Introspected> {
        let base = answer.base;
        let type_ok = base
            .token_type
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case(TOKEN_TYPE_BEARER));
        let issuer_ok = base
            .iss
            .as_deref()
            .is_none_or(|i| i == self.expected_issuer);
        let audience_ok = base.aud.as_deref().is_none_or(|a| a == self.audience);
        // RFC 7662 §2.2: `exp` is optional; without it the TTL alone bounds the cache entry.
        let exp = base.exp.unwrap_or(i64::MAX);
        if !(base.active && type_ok && issuer_ok && audience_ok && exp > now) {
            return None;
        }
        Some(Introspected {
            sub: base.sub.unwrap_or_default(),
            username: base.username.unwrap_or_default(),
            client_id: base.client_id.unwrap_or_default(),
            scopes: base
                .scope
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            filters: answer.filters,
            is_restricted: answer.is_restricted,
            email_verified: answer.email_verified,
            exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn introspector() -> Introspector {
        let issuer = Arc::new(
            Issuer::new(
                Url::parse("https://lms.example.com/oauth2").unwrap(),
                Duration::from_secs(1),
                false,
            )
            .unwrap(),
        );
        Introspector::new(
            ValidIntrospection {
                endpoint: None,
                client_id: "guard".into(),
                client_secret: ClientSecret::new("s"),
                cache_ttl: Duration::from_secs(60),
                cache_capacity: 10,
            },
            issuer,
            "https://lms.example.com/oauth2".into(),
            "openedx".into(),
            Arc::default(),
        )
    }

    fn answer(json: serde_json::Value) -> Answer {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn accepts_only_active_bearer_tokens_of_ours() {
        let i = introspector();
        let good = serde_json::json!({
            "active": true, "scope": "read  email", "client_id": "mobile", "username": "honor",
            "token_type": "Bearer", "exp": 2000, "iat": 1000, "sub": "abc",
            "aud": "openedx", "iss": "https://lms.example.com/oauth2"
        });
        let accepted = i.accept(answer(good.clone()), 1500).unwrap();
        assert_eq!(accepted.scopes, ["read", "email"]);
        assert_eq!(accepted.email_verified, None);
        assert!(!accepted.is_restricted);

        let mut with_extras = good.clone();
        with_extras["email_verified"] = true.into();
        with_extras["filters"] = serde_json::json!(["content_org:MITx"]);
        let accepted = i.accept(answer(with_extras), 1500).unwrap();
        assert_eq!(accepted.email_verified, Some(true));
        assert_eq!(accepted.filters, ["content_org:MITx"]);

        for (member, value) in [
            ("active", serde_json::json!(false)),
            ("token_type", "refresh_token".into()),
            ("aud", "other".into()),
            ("iss", "https://evil.example.com/oauth2".into()),
            ("exp", 1500.into()),
        ] {
            let mut bad = good.clone();
            bad[member] = value;
            assert!(i.accept(answer(bad), 1500).is_none(), "{member}");
        }
        assert!(i
            .accept(answer(serde_json::json!({"active": false})), 0)
            .is_none());
    }
}
