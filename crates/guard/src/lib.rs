//! Protects an axum (or any tower) service with Latchkey tokens: a tower layer that
//! authenticates each request, and axum extractors that say what a route needs.
//!
//! Three lines protect a service: build a [`Guard`], add its layer, take [`Authenticated`] in
//! the handler.
//!
//! ```
//! use axum::{routing::get, Router};
//! use latchkey_guard::{Authenticated, Guard, GuardConfig};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = Guard::new(GuardConfig::new("https://lms.example.com/oauth2", "openedx"))?;
//! let app: Router = Router::new().route("/me", get(me)).layer(guard.layer());
//! async fn me(user: Authenticated) -> String { user.username().to_owned() }
//! # use tower::ServiceExt;
//! # let response = app
//! #     .oneshot(axum::http::Request::get("/me").body(axum::body::Body::empty())?)
//! #     .await?;
//! # assert_eq!(response.status(), 401);
//! # assert_eq!(response.headers()["www-authenticate"], "Bearer");
//! # Ok(())
//! # }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! What it accepts (product.md §5):
//! - `Authorization: JWT <jwt>` and `Authorization: Bearer <jwt>`;
//! - the two JWT cookies, `edx-jwt-cookie-header-payload` and `edx-jwt-cookie-signature`,
//!   reassembled; unsafe methods then also need the `X-CSRFToken` header to repeat the
//!   `csrftoken` cookie (see [`GuardConfig::cookies`] and `docs/design/guard.md`);
//! - deprecated: an opaque `Bearer` token, when [`GuardConfig::introspection`] is set; it is
//!   checked by RFC 7662 introspection, cached, counted, and answered with a `Deprecation`
//!   header.
//!
//! JWTs are verified against the issuer's JWK Set (fetched through discovery or from a
//! configured URL, cached, refetched at most once per interval when a token names an unknown
//! `kid`, and used while the issuer is unreachable up to a maximum staleness), with `iss`, `aud`,
//! `exp`, `iat` (with leeway) and the `version` major checked, and only the configured
//! asymmetric algorithms accepted. Each verified token is cached (by its SHA-256) until it
//! expires, so repeated requests pay for the signature once.
//!
//! With [`GuardConfig::revocations`] the guard follows the server's revocation feed, so that a
//! revoked JWT, or one issued to a user before they were disabled or logged out everywhere, is
//! refused within seconds (401, "token revoked"), cached or not. While the feed cannot be read,
//! [`WhenStale`] decides: by default tokens with the `administrator` or `superuser` flag are
//! refused (503), the others accepted and counted.
//!
//! What a route needs:
//! - [`Authenticated`]: a valid credential (401 without one); `Option<Authenticated>`: none is
//!   fine, but a bad one is still refused;
//! - by default unverified users and restricted clients are refused (403); [`Require`] relaxes
//!   that per route and adds scopes (`grades:read`) and filters (`content_org:`, `user:`) that
//!   must match a path parameter; [`Authenticated::require_scope`] and
//!   [`Authenticated::require_filter`] do the same inside a handler.
//!
//! Authorization (product.md §5-§6): [`AuthzClient`] asks the server's Open edX AuthZ check
//! endpoint whether a user may do an action in a scope, caches the answers, and follows the
//! server's change feed so a role change invalidates them within the feed's latency;
//! [`AuthzClient::require`] does it inside a handler.
//!
//! Refusals are [`Rejection`]s: RFC 6750 (`401` with `WWW-Authenticate: Bearer
//! error="invalid_token", ...`), with a body in RFC 6749 form or, with
//! [`RejectionStyle::OpenEdx`], the `{"detail": "Token has expired."}` form Open edX mobile apps
//! parse.

#![warn(missing_docs, unreachable_pub)]

mod authz;
mod cache;
mod config;
mod credentials;
mod csrf;
pub mod danger;
mod extract;
mod fetch;
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod identity;
mod introspect;
mod jwks;
mod layer;
mod rejection;
mod require;
mod revocation;
mod stats;
mod verify;

pub use authz::{AuthzClient, AuthzConfig, CheckError};
pub use config::{
    ClientSecret, ConfigError, CookieConfig, GuardConfig, IntrospectionConfig, KeySource,
};
pub use credentials::{CredentialError, CredentialSource};
pub use csrf::CsrfFailure;
pub use guard::Guard;
pub use identity::Authenticated;
pub use latchkey_token::{AccessClaims, Algorithm};
pub use layer::{GuardLayer, GuardService};
pub use rejection::{InvalidToken, Rejection, RejectionKind, RejectionStyle};
pub use require::{Require, RequireService};
pub use revocation::{FailMode, RevocationFeedConfig, WhenStale};
pub use stats::{AuthzStats, GuardStats};

// A service shares these across tasks and threads (router state, request extensions, the layer
// stack): a field that is not `Send + Sync` must fail to compile here, not in the services.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Guard>();
    assert_send_sync::<GuardLayer>();
    assert_send_sync::<Require>();
    assert_send_sync::<Authenticated>();
    assert_send_sync::<Rejection>();
    assert_send_sync::<AuthzClient>();

    // Handlers await these, and axum needs handler futures to be `Send`. (The guard's own
    // `authenticate` is held to it by `GuardService`.)
    #[expect(dead_code, reason = "never run: it only has to compile")]
    fn futures_are_send(authz: &AuthzClient, user: &Authenticated, guard: &Guard) {
        fn assert_send<T: Send>(_: T) {}
        assert_send(authz.check("", "", ""));
        assert_send(authz.check_batch(&[]));
        assert_send(authz.allows(user, "", ""));
        assert_send(authz.require(user, "", ""));
        assert_send(guard.warm());
    }
};
