//! The tower layer: authenticates each request once, before routing, and leaves the outcome in the
//! request's extensions for the extractors and [`Require`](crate::Require). It refuses nothing by
//! itself (a public route under it still answers a request without credentials); what a route
//! needs is said by what its handler extracts.
//!
//! On the way out it marks responses to requests authenticated by a deprecated opaque token with
//! `Deprecation` (RFC 9745).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::http::{HeaderName, HeaderValue, Request, Response};
use tower::{Layer, Service};

use crate::guard::Guard;
use crate::identity::Authenticated;
use crate::rejection::{Rejection, RejectionStyle};

/// RFC 9745 §2.
const DEPRECATION: HeaderName = HeaderName::from_static("deprecation");

/// What the layer found, for the extractors: the authenticated caller, no credential, or the
/// reason the credential was refused.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    pub(crate) result: Result<Option<Authenticated>, Rejection>,
    pub(crate) style: RejectionStyle,
}

/// Authenticates every request under it with a [`Guard`]; made by [`Guard::layer`].
#[derive(Clone, Debug)]
pub struct GuardLayer {
    guard: Guard,
}

impl GuardLayer {
    pub(crate) fn new(guard: Guard) -> Self {
        GuardLayer { guard }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> GuardService<S> {
        GuardService {
            inner,
            guard: self.guard.clone(),
        }
    }
}

/// The service [`GuardLayer`] wraps around the inner one.
#[derive(Clone, Debug)]
pub struct GuardService<S> {
    inner: S,
    guard: Guard,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GuardService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone is not ready; the service that was polled ready handles this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let result = guard.authenticate(&parts.method, &parts.headers).await;
            let deprecated = matches!(&result, Ok(Some(auth)) if auth.is_deprecated());
            parts.extensions.insert(Outcome {
                result,
                style: guard.rejection_style(),
            });
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            if deprecated {
                if let Ok(value) = HeaderValue::from_str(&guard.deprecation_value()) {
                    response.headers_mut().insert(DEPRECATION, value);
                }
            }
            Ok(response)
        })
    }
}
