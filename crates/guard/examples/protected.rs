//! A small resource server protected by latchkey-guard. The integration tests run its router
//! against a real Latchkey server (`tests/example_service.rs`); to run it by hand:
//!
//! ```text
//! latchkey serve &                                       # issuer http://127.0.0.1:8000/oauth2
//! LATCHKEY_ISSUER=http://127.0.0.1:8000/oauth2 LATCHKEY_AUDIENCE=latchkey \
//!     cargo run -p latchkey-guard --example protected    # listens on 127.0.0.1:8080
//! curl -H "Authorization: JWT $TOKEN" http://127.0.0.1:8080/profile
//! ```
//!
//! Optional: `LATCHKEY_GUARD_CLIENT_ID` / `LATCHKEY_GUARD_CLIENT_SECRET` (a confidential client
//! granted `introspect`, to accept deprecated opaque tokens), `LATCHKEY_GUARD_REVOCATIONS=follow`
//! (that client, also granted `revocations:read`, follows the revocation feed),
//! `LATCHKEY_GUARD_STYLE=openedx`, `LISTEN=addr`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use latchkey_guard::{
    Authenticated, Guard, GuardConfig, IntrospectionConfig, Require, RevocationFeedConfig,
};
use serde_json::{json, Value};

/// The service: which routes need what.
pub fn app(guard: &Guard) -> Router {
    // Default policy: a valid credential of a verified user from an unrestricted client.
    let strict = Router::new()
        .route("/profile", get(profile))
        .route("/notes", post(add_note));
    // Anyone signed in, verified or not (e.g. a page that asks to verify the email address).
    let lenient = Router::new()
        .route("/whoami", get(profile))
        .route_layer(Require::authenticated().allow_unverified());
    // Open edX style: restricted clients are let in where scopes and filters are checked.
    let grades = Router::new()
        .route("/grades/{org}", get(grades))
        .route_layer(
            Require::authenticated()
                .scope("grades:read")
                .filter("content_org", "org")
                .allow_restricted(),
        );
    let courses = Router::new()
        .route("/users/{username}/courses", get(courses))
        .route_layer(Require::authenticated().filter("user", "username"));
    Router::new()
        .route("/public", get(public))
        .merge(strict)
        .merge(lenient)
        .merge(grades)
        .merge(courses)
        .layer(guard.layer())
}

fn describe(user: &Authenticated) -> Value {
    json!({
        "username": user.username(),
        "client_id": user.client_id(),
        "scopes": user.scopes(),
        "source": format!("{:?}", user.source()),
        "email_verified": user.email_verified(),
    })
}

async fn profile(user: Authenticated) -> Json<Value> {
    Json(describe(&user))
}

async fn add_note(user: Authenticated) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({ "saved_for": user.username() })),
    )
}

async fn public(user: Option<Authenticated>) -> String {
    match user {
        Some(user) => format!("hello, {}", user.username()),
        None => "hello, anonymous".into(),
    }
}

async fn grades(Path(org): Path<String>, user: Authenticated) -> Json<Value> {
    Json(json!({ "org": org, "client_id": user.client_id(), "grades": [] }))
}

async fn courses(Path(username): Path<String>) -> Json<Value> {
    Json(json!({ "username": username, "courses": [] }))
}

/// The guard's configuration from the environment.
pub fn config_from_env() -> GuardConfig {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let mut config = GuardConfig::new(
        var("LATCHKEY_ISSUER", "http://127.0.0.1:8000/oauth2"),
        var("LATCHKEY_AUDIENCE", "latchkey"),
    );
    if let (Ok(id), Ok(secret)) = (
        std::env::var("LATCHKEY_GUARD_CLIENT_ID"),
        std::env::var("LATCHKEY_GUARD_CLIENT_SECRET"),
    ) {
        if var("LATCHKEY_GUARD_REVOCATIONS", "off") == "follow" {
            config.revocations = Some(RevocationFeedConfig::new(id.clone(), secret.clone()));
        }
        config.introspection = Some(IntrospectionConfig::new(id, secret));
    }
    if var("LATCHKEY_GUARD_STYLE", "rfc6750") == "openedx" {
        config.rejection_style = latchkey_guard::RejectionStyle::OpenEdx;
    }
    config
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = Guard::new(config_from_env())?;
    if let Err(e) = guard.warm().await {
        eprintln!("issuer not reachable yet ({e}); will retry on the first request");
    }
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("protected example listening on http://{listen}");
    axum::serve(listener, app(&guard)).await?;
    Ok(())
}
