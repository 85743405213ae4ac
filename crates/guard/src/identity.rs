//! [`Authenticated`]: the proof that a request carried a valid credential, and what it says.
//!
//! Only the guard builds one (its fields are private), after verifying a JWT or introspecting an
//! opaque token; a handler that takes one as an argument cannot run without that check.

use std::sync::Arc;

use latchkey_token::AccessClaims;

use crate::credentials::CredentialSource;
use crate::rejection::{Rejection, RejectionKind, RejectionStyle};

/// What the guard verified, shared by every request that presents the same token.
#[derive(Debug)]
// Always behind an `Arc`: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Verified {
    /// A JWT whose signature and claims were checked.
    Jwt(AccessClaims),
    /// An opaque token that introspection called active.
    Opaque(Introspected),
}

/// What an introspection answer says about an active opaque token (RFC 7662 §2.2, plus the
/// members Latchkey may add: `filters`, `is_restricted`, `email_verified`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Introspected {
    pub(crate) sub: String,
    pub(crate) username: String,
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) filters: Vec<String>,
    pub(crate) is_restricted: bool,
    pub(crate) email_verified: Option<bool>,
    pub(crate) exp: i64,
}

/// An authenticated caller: the axum extractor for routes that require authentication, and the
/// value `Option<Authenticated>` yields when a credential is present.
///
/// As an extractor it also enforces the route's policy: unverified users and restricted clients
/// are refused (403) unless the route allows them with [`Require`](crate::Require).
#[derive(Clone, Debug)]
pub struct Authenticated {
    verified: Arc<Verified>,
    source: CredentialSource,
    style: RejectionStyle,
}

impl Authenticated {
    pub(crate) fn new(
        verified: Arc<Verified>,
        source: CredentialSource,
        style: RejectionStyle,
    ) -> Self {
        Authenticated {
            verified,
            source,
            style,
        }
    }

    /// The verified JWT claims; `None` for a deprecated opaque token.
    pub fn claims(&self) -> Option<&AccessClaims> {
        match &*self.verified {
            Verified::Jwt(claims) => Some(claims),
            Verified::Opaque(_) => None,
        }
    }

    /// The user's stable anonymous id (`sub`).
    pub fn subject(&self) -> &str {
        match &*self.verified {
            Verified::Jwt(c) => &c.sub,
            Verified::Opaque(i) => &i.sub,
        }
    }

    /// The username (`preferred_username`).
    pub fn username(&self) -> &str {
        match &*self.verified {
            Verified::Jwt(c) => &c.preferred_username,
            Verified::Opaque(i) => &i.username,
        }
    }

    /// The client the token was issued to.
    pub fn client_id(&self) -> &str {
        match &*self.verified {
            Verified::Jwt(c) => &c.client_id,
            Verified::Opaque(i) => &i.client_id,
        }
    }

    /// The granted scopes.
    pub fn scopes(&self) -> &[String] {
        match &*self.verified {
            Verified::Jwt(c) => &c.scopes,
            Verified::Opaque(i) => &i.scopes,
        }
    }

    /// The client's filters, e.g. `content_org:MITx`, `user:me`.
    pub fn filters(&self) -> &[String] {
        match &*self.verified {
            Verified::Jwt(c) => &c.filters,
            Verified::Opaque(i) => &i.filters,
        }
    }

    /// Whether the token's client is restricted.
    pub fn is_restricted(&self) -> bool {
        match &*self.verified {
            Verified::Jwt(c) => c.is_restricted,
            Verified::Opaque(i) => i.is_restricted,
        }
    }

    /// Whether the user's email address is verified; `None` when the credential does not say
    /// (an opaque token whose introspection answer has no `email_verified`).
    pub fn email_verified(&self) -> Option<bool> {
        match &*self.verified {
            Verified::Jwt(c) => Some(c.email_verified),
            Verified::Opaque(i) => i.email_verified,
        }
    }

    /// When the token expires, unix seconds.
    pub fn expires_at(&self) -> i64 {
        match &*self.verified {
            Verified::Jwt(c) => c.exp,
            Verified::Opaque(i) => i.exp,
        }
    }

    /// Where the credential came from.
    pub fn source(&self) -> CredentialSource {
        self.source
    }

    /// Whether the credential is a deprecated opaque token (the response carries `Deprecation`).
    pub fn is_deprecated(&self) -> bool {
        matches!(&*self.verified, Verified::Opaque(_))
    }

    /// Whether the token has `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().iter().any(|s| s == scope)
    }

    /// `Ok` if the token has `scope`, else a 403 `insufficient_scope` naming it (RFC 6750 §3.1).
    ///
    /// ```
    /// # use latchkey_guard::{Authenticated, Rejection};
    /// async fn grades(auth: Authenticated) -> Result<&'static str, Rejection> {
    ///     auth.require_scope("grades:read")?;
    ///     Ok("A+")
    /// }
    /// ```
    pub fn require_scope(&self, scope: &str) -> Result<&Self, Rejection> {
        if self.has_scope(scope) {
            Ok(self)
        } else {
            Err(self.reject(RejectionKind::InsufficientScope(scope.to_owned())))
        }
    }

    /// Whether a filter of `kind` matches `value`: `content_org:<value>` for `content_org`;
    /// `user:<value>`, or `user:me` when `value` is the token's own username, for `user`
    /// (Open edX's `JwtHasContentOrgFilterForRequestedCourse` and
    /// `JwtHasUserFilterForRequestedUser`). Other kinds compare literally.
    pub fn filter_matches(&self, kind: &str, value: &str) -> bool {
        self.filters().iter().any(|filter| {
            let Some((k, v)) = filter.split_once(':') else {
                return false;
            };
            if k != kind {
                return false;
            }
            // `user:me` means the token's own user; it never matches a user literally named `me`.
            if kind == "user" && v == "me" {
                value == self.username()
            } else {
                v == value
            }
        })
    }

    /// `Ok` if a filter of `kind` matches `value` (see [`Authenticated::filter_matches`]), else a
    /// 403.
    pub fn require_filter(&self, kind: &str, value: &str) -> Result<&Self, Rejection> {
        if self.filter_matches(kind, value) {
            Ok(self)
        } else {
            Err(self.reject(RejectionKind::FilterMismatch(kind.to_owned())))
        }
    }

    pub(crate) fn reject(&self, kind: RejectionKind) -> Rejection {
        Rejection::new(kind, self.style)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn claims() -> AccessClaims {
        AccessClaims {
            iss: "https://lms.example.com/oauth2".into(),
            aud: "openedx".into(),
            exp: 2_000_000_000,
            iat: 1_700_000_000,
            jti: "j".into(),
            sub: "0123456789abcdef0123456789abcdef".into(),
            preferred_username: "honor".into(),
            scopes: vec!["read".into(), "grades:read".into()],
            filters: vec!["content_org:MITx".into(), "user:me".into()],
            is_restricted: false,
            email_verified: true,
            grant_type: "password".into(),
            version: latchkey_token::JWT_VERSION.into(),
            client_id: "mobile".into(),
            user_id: None,
            email: None,
            name: None,
            given_name: None,
            family_name: None,
            administrator: None,
            superuser: None,
            token_use: None,
        }
    }

    pub(crate) fn authenticated(claims: AccessClaims) -> Authenticated {
        Authenticated::new(
            Arc::new(Verified::Jwt(claims)),
            CredentialSource::AuthorizationJwt,
            RejectionStyle::Rfc6750,
        )
    }

    #[test]
    fn scopes_and_filters() {
        let auth = authenticated(claims());
        assert!(auth.require_scope("grades:read").is_ok());
        let err = auth.require_scope("certificates:read").unwrap_err();
        assert_eq!(
            err.kind(),
            &RejectionKind::InsufficientScope("certificates:read".into())
        );
        assert!(auth.filter_matches("content_org", "MITx"));
        assert!(!auth.filter_matches("content_org", "HarvardX"));
        assert!(!auth.filter_matches("content_org", "mitx"));
        assert!(auth.filter_matches("user", "honor"));
        assert!(!auth.filter_matches("user", "verified"));
        assert!(!auth.filter_matches("user", "me"));
        assert_eq!(
            auth.require_filter("content_org", "HarvardX")
                .unwrap_err()
                .kind(),
            &RejectionKind::FilterMismatch("content_org".into())
        );
    }

    #[test]
    fn opaque_tokens_say_less() {
        let auth = Authenticated::new(
            Arc::new(Verified::Opaque(Introspected {
                sub: "s".into(),
                username: "u".into(),
                client_id: "c".into(),
                scopes: vec!["read".into()],
                filters: vec![],
                is_restricted: false,
                email_verified: None,
                exp: 5,
            })),
            CredentialSource::OpaqueBearer,
            RejectionStyle::OpenEdx,
        );
        assert!(auth.claims().is_none());
        assert!(auth.is_deprecated());
        assert_eq!(auth.email_verified(), None);
        assert!(auth.has_scope("read"));
        assert_eq!(auth.username(), "u");
    }
}
