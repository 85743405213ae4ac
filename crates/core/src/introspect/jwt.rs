//! RFC 9701: an introspection answer as a JWT signed by the server, so that a gateway can hand the
//! services behind it a verifiable token in place of the opaque one it was shown.

use latchkey_proto::{IntrospectionJwtClaims, IntrospectionResponse, INTROSPECTION_JWT_TYP};

use crate::client::Permission;
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::store::Store;
use crate::tokens::TokenService;

impl<S: Store> TokenService<S> {
    /// `answer`, which [`TokenService::introspect`] gave `client` at `now`, as a JWT for that
    /// client: signed with the current key (the `kid` of access tokens, published in the JWKS),
    /// typed `token-introspection+jwt`, with `iss`, `aud` (the client's id), `iat` and the answer
    /// nested whole in `token_introspection` (RFC 9701 §5).
    ///
    /// No `exp`, `sub` or `jti` of its own (§5: `sub` and `exp` SHOULD NOT be there, so that it
    /// cannot serve as an access token): the answer's own `exp` and `jti` describe the token, and
    /// how fresh an answer must be is the resource server's call, from `iat`.
    pub fn sign_introspection(
        &self,
        client: &AuthenticatedClient,
        answer: IntrospectionResponse,
        now: i64,
    ) -> Result<String, OAuthError> {
        // `introspect` checked this already; checked again so that no caller can have an answer
        // signed for a client that may not introspect.
        client.require(Permission::Introspect)?;
        let claims = IntrospectionJwtClaims {
            iss: self.settings.issuer.clone(),
            aud: client.client().id.clone(),
            iat: now,
            token_introspection: answer,
        };
        Ok(self
            .keys
            .signer()
            .sign_typed(INTROSPECTION_JWT_TYP, &claims)?)
    }
}
