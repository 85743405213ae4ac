//! Route requirements: [`Require`] is a route layer that refuses a request before its handler
//! runs unless the caller is authenticated, has the scopes, has a filter matching a path
//! parameter, and passes the route's policy on unverified users and restricted clients.
//!
//! ```
//! use axum::{routing::get, Router};
//! use latchkey_guard::Require;
//!
//! # fn app(guard: latchkey_guard::Guard) -> Router {
//! Router::new()
//!     .route("/api/grades/v1/{org}", get(|| async { "grades" }))
//!     // A restricted partner may call this route, with the scope and a content_org filter.
//!     .route_layer(
//!         Require::authenticated()
//!             .scope("grades:read")
//!             .filter("content_org", "org")
//!             .allow_restricted(),
//!     )
//!     .layer(guard.layer())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::identity::Authenticated;
use crate::layer::Outcome;
use crate::rejection::{Rejection, RejectionKind, RejectionStyle};

/// What a route admits besides a valid credential. The default is strict: verified users and
/// unrestricted clients only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RoutePolicy {
    allow_unverified: bool,
    allow_restricted: bool,
}

impl RoutePolicy {
    /// Refuses a user whose email is not known to be verified (an opaque token whose introspection
    /// answer does not say counts as unverified) and a restricted client, unless allowed.
    pub(crate) fn admit(&self, auth: &Authenticated) -> Result<(), Rejection> {
        if !self.allow_unverified && auth.email_verified() != Some(true) {
            return Err(auth.reject(RejectionKind::Unverified));
        }
        if !self.allow_restricted && auth.is_restricted() {
            return Err(auth.reject(RejectionKind::Restricted));
        }
        Ok(())
    }
}

/// Requirements of the routes it is applied to with `Router::route_layer`. The guard's layer must
/// be outside it (`.layer(guard.layer())` after).
///
/// The policy it sets also holds for the [`Authenticated`] extractors of those routes.
#[derive(Clone, Debug, Default)]
pub struct Require {
    optional: bool,
    scopes: Vec<String>,
    /// (filter kind, path parameter)
    filters: Vec<(String, String)>,
    policy: RoutePolicy,
}

impl Require {
    /// A valid credential is required (401 without one).
    pub fn authenticated() -> Self {
        Require::default()
    }

    /// A credential is optional, but when present it must meet the requirements and the policy;
    /// for routes whose handlers take `Option<Authenticated>`.
    pub fn optional() -> Self {
        Require {
            optional: true,
            ..Require::default()
        }
    }

    /// The token must have `scope` (403 `insufficient_scope` otherwise).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// A filter of `kind` (`content_org`, `user`) must match the path parameter `param`; see
    /// [`Authenticated::filter_matches`].
    pub fn filter(mut self, kind: impl Into<String>, param: impl Into<String>) -> Self {
        self.filters.push((kind.into(), param.into()));
        self
    }

    /// Users whose email address is not verified are admitted too.
    pub fn allow_unverified(mut self) -> Self {
        self.policy.allow_unverified = true;
        self
    }

    /// Restricted clients are admitted too (as Open edX admits them: to routes that check
    /// scopes and filters).
    pub fn allow_restricted(mut self) -> Self {
        self.policy.allow_restricted = true;
        self
    }

    async fn check(&self, parts: &mut Parts) -> Result<(), Rejection> {
        let outcome = parts.extensions.get::<Outcome>().cloned().ok_or_else(|| {
            Rejection::new(RejectionKind::NotConfigured, RejectionStyle::default())
        })?;
        let auth = match outcome.result? {
            Some(auth) => auth,
            None if self.optional => return Ok(()),
            None => {
                return Err(Rejection::new(
                    RejectionKind::MissingCredentials,
                    outcome.style,
                ))
            }
        };
        self.policy.admit(&auth)?;
        for scope in &self.scopes {
            auth.require_scope(scope)?;
        }
        if self.filters.is_empty() {
            return Ok(());
        }
        let params = RawPathParams::from_request_parts(parts, &())
            .await
            .map_err(|_| auth.reject(RejectionKind::NotConfigured))?;
        for (kind, param) in &self.filters {
            let Some((_, value)) = params.iter().find(|(name, _)| name == param) else {
                tracing::error!(
                    param,
                    "latchkey-guard: Require::filter names no path parameter"
                );
                return Err(auth.reject(RejectionKind::NotConfigured));
            };
            auth.require_filter(kind, value)?;
        }
        Ok(())
    }
}

impl<S> Layer<S> for Require {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> RequireService<S> {
        RequireService {
            inner,
            require: self.clone(),
        }
    }
}

/// The service [`Require`] wraps around a route.
#[derive(Clone, Debug)]
pub struct RequireService<S> {
    inner: S,
    require: Require,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<B>> for RequireService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let require = self.require.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if let Err(rejection) = require.check(&mut parts).await {
                return Ok(rejection.into_response());
            }
            parts.extensions.insert(require.policy);
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::tests::{authenticated, claims};

    #[test]
    fn strict_by_default() {
        let strict = RoutePolicy::default();
        assert!(strict.admit(&authenticated(claims())).is_ok());

        let mut unverified = claims();
        unverified.email_verified = false;
        let err = strict
            .admit(&authenticated(unverified.clone()))
            .unwrap_err();
        assert_eq!(err.kind(), &RejectionKind::Unverified);
        assert!(Require::authenticated()
            .allow_unverified()
            .policy
            .admit(&authenticated(unverified))
            .is_ok());

        let mut restricted = claims();
        restricted.is_restricted = true;
        let err = strict
            .admit(&authenticated(restricted.clone()))
            .unwrap_err();
        assert_eq!(err.kind(), &RejectionKind::Restricted);
        assert!(Require::authenticated()
            .allow_restricted()
            .policy
            .admit(&authenticated(restricted))
            .is_ok());
    }
}
