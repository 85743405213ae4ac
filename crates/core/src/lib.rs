//! Latchkey's domain: users, clients, grants (one file per grant), refresh families, signing keys
//! and the storage traits they need. It knows neither HTTP nor SQL: the server crate turns requests
//! into calls here, the store crate implements [`store::Store`] for SQLite and PostgreSQL. Time
//! (`now`, unix seconds) and randomness ([`random::Random`]) are parameters.
//!
//! ```
//! use latchkey_core::scope::ScopeRegistry;
//! let scopes = ScopeRegistry::default();
//! assert!(scopes.contains("grades:read"));
//! ```

pub mod admin;
pub mod authorize;
pub mod authz;
pub mod client;
pub mod client_auth;
pub mod directory;
pub mod error;
pub mod grant;
mod introspect;
pub mod keys;
pub mod notice;
pub mod oidc;
pub mod password;
pub mod random;
pub mod request;
pub mod revocation_feed;
pub mod scope;
pub mod secret;
pub mod service_jwt;
pub mod session;
pub mod session_jwt;
pub mod signin;
pub mod store;
mod successor;
pub mod throttle;
pub mod tokens;
pub mod user;
pub mod webview;
