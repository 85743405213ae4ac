//! Request extractors: the form body of the OAuth2 endpoints and client credentials.

mod client_auth;
pub mod client_ip;
mod form;

pub use client_auth::basic_credentials;
pub use form::{OAuthForm, MAX_FORM_BYTES};

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use latchkey_core::store::Store;

use crate::state::AppState;

/// The client's IP address when the server knows it (it does when served by [`crate::serve`]):
/// the peer's, or what the trusted proxies in front of it say ([`client_ip`]).
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Store> FromRequestParts<AppState<S>> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientIp(
            peer.map(|peer| state.proxies.client(peer, &parts.headers)),
        ))
    }
}
