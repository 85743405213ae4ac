//! The axum extractors: [`Authenticated`] (a credential is required) and `Option<Authenticated>`
//! (no credential → `None`; a bad one is still refused, as in axum's own optional extractors).
//! Both read what the guard layer found, and apply the route's policy on unverified users and
//! restricted clients (strict unless [`Require`](crate::Require) relaxed it).

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;

use crate::identity::Authenticated;
use crate::layer::Outcome;
use crate::rejection::{Rejection, RejectionKind, RejectionStyle};
use crate::require::RoutePolicy;

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Rejection> {
        let outcome = outcome(parts)?;
        match outcome.result {
            Ok(Some(auth)) => admit(parts, auth),
            Ok(None) => Err(Rejection::new(
                RejectionKind::MissingCredentials,
                outcome.style,
            )),
            Err(rejection) => Err(rejection),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Rejection> {
        match outcome(parts)?.result {
            Ok(Some(auth)) => admit(parts, auth).map(Some),
            Ok(None) => Ok(None),
            Err(rejection) => Err(rejection),
        }
    }
}

fn outcome(parts: &Parts) -> Result<Outcome, Rejection> {
    parts
        .extensions
        .get::<Outcome>()
        .cloned()
        .ok_or_else(|| Rejection::new(RejectionKind::NotConfigured, RejectionStyle::default()))
}

fn admit(parts: &Parts, auth: Authenticated) -> Result<Authenticated, Rejection> {
    let policy = parts
        .extensions
        .get::<RoutePolicy>()
        .copied()
        .unwrap_or_default();
    policy.admit(&auth)?;
    Ok(auth)
}
