//! Latchkey's HTTP surface: thin axum handlers over `latchkey-core`. Each handler parses the wire
//! shape (`latchkey-proto`), calls one domain operation, and turns the result back into the wire
//! shape; errors reach the wire in one place ([`error`]).
//!
//! ```no_run
//! # async fn demo<S: latchkey_core::store::Store>(state: latchkey_server::AppState<S>) {
//! let app = latchkey_server::router(state);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await.unwrap();
//! latchkey_server::serve(listener, app, std::future::pending()).await.unwrap();
//! # }
//! ```

pub mod clock;
pub mod error;
mod extract;
mod http;
pub mod janitor;
pub mod notices;
mod routes;
pub mod services;
mod state;
pub mod web;

use std::future::Future;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn_with_state, map_response};
use axum::routing::{get, post};
use axum::Router;
use latchkey_core::store::Store;

pub use extract::client_ip::{Cidr, CidrError, ForwardedHeader, TrustedProxies};
pub use http::{serve_with, HttpSettings};
pub use state::{discovery_document, AppState};
pub use web::WebSettings;

/// Every route Latchkey serves so far. Paths accept the trailing slash Open edX clients send.
pub fn router<S: Store>(state: AppState<S>) -> Router {
    use routes::userinfo;
    use routes::{authorize, home, webview};
    use routes::{
        discovery, health, introspect, login, login_refresh, metrics, mint, revocations, revoke,
        token,
    };
    let cors_origins = state.web.cors_origins.clone();
    // What browsers read: every answer gets the security headers (web/headers.rs).
    let browser = Router::new()
        .route("/csrf/api/v1/token", get(web::csrf::token::<S>))
        .route("/csrf/api/v1/token/", get(web::csrf::token::<S>))
        .route("/static/latchkey.css", get(web::page::stylesheet::<S>))
        .route("/", get(home::home::<S>))
        .route("/login", get(login::form::<S>).post(login::submit::<S>))
        .route("/login/", get(login::form::<S>).post(login::submit::<S>))
        .route("/logout", post(login::logout::<S>))
        .route("/logout/", post(login::logout::<S>))
        .route("/login_refresh", post(login_refresh::refresh::<S>))
        .route("/login_refresh/", post(login_refresh::refresh::<S>))
        .route("/oauth2/login", post(webview::login::<S>))
        .route("/oauth2/login/", post(webview::login::<S>))
        .route(
            "/oauth2/authorize",
            get(authorize::authorize_get::<S>).post(authorize::authorize_post::<S>),
        )
        .route(
            "/oauth2/authorize/",
            get(authorize::authorize_get::<S>).post(authorize::authorize_post::<S>),
        )
        .layer(map_response(web::headers::secure));
    let app = Router::new()
        .merge(browser)
        .route("/oauth2/access_token", post(token::token::<S>))
        .route("/oauth2/access_token/", post(token::token::<S>))
        .route("/oauth2/revoke_token", post(revoke::revoke::<S>))
        .route("/oauth2/revoke_token/", post(revoke::revoke::<S>))
        .route("/oauth2/introspect", post(introspect::introspect::<S>))
        .route("/oauth2/introspect/", post(introspect::introspect::<S>))
        .route("/oauth2/revocations", get(revocations::revocations::<S>))
        .route("/oauth2/mint", post(mint::mint::<S>))
        .route("/oauth2/mint/", post(mint::mint::<S>))
        .route(
            "/oauth2/userinfo",
            get(userinfo::userinfo::<S>).post(userinfo::userinfo::<S>),
        )
        .route(
            "/oauth2/userinfo/",
            get(userinfo::userinfo::<S>).post(userinfo::userinfo::<S>),
        )
        // Where Open edX services that subclass edx-drf-extensions' BearerAuthentication
        // (ecommerce) look for it.
        .route("/oauth2/user_info", get(userinfo::userinfo::<S>))
        .route("/oauth2/user_info/", get(userinfo::userinfo::<S>))
        .route("/oauth2/jwks.json", get(discovery::jwks::<S>))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::metadata::<S>),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::metadata::<S>),
        )
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready::<S>))
        .route("/metrics", get(metrics::render::<S>))
        .layer(DefaultBodyLimit::max(extract::MAX_FORM_BYTES))
        // Its own body limit (batches of checks): merged after the form limit above.
        .merge(routes::authz::routes::<S>());
    // With no MFE origin configured no answer can differ by `Origin`: no layer, and nothing for
    // the machine clients' requests to pass through.
    let app = if cors_origins.is_empty() {
        app
    } else {
        app.layer(from_fn_with_state(
            web::cors::CorsOrigins::new(&cors_origins),
            web::cors::cors,
        ))
    };
    app.with_state(state)
}

/// Serves `app` with the default [`HttpSettings`] until `shutdown` resolves, then finishes the
/// requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, shutdown, HttpSettings::default()).await
}
