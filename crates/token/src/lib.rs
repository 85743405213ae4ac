//! JWT + JWKS for Latchkey: claims, signing and verification, key sets with `kid`.
//!
//! This crate is the JOSE layer and nothing else: no I/O and no clock (`now` is a parameter, in
//! unix seconds). It signs and verifies JWTs in the JWS Compact Serialization (RFC 7515 §7.1,
//! RFC 7519) with RS512, RS256, ES256 and EdDSA (RFC 7518 §3, RFC 8037), publishes public keys as
//! JWKs (RFC 7517) whose `kid` is the RFC 7638 thumbprint, and defines the Open edX-compatible
//! [`AccessClaims`].
//!
//! Keys are parsed once ([`SigningKey`], [`VerifyingKeys`]) on top of `aws-lc-rs`, so the token
//! endpoint's hot path never re-parses key material. Symmetric algorithms and `none` do not exist
//! here, and a token's `alg` must match the key its `kid` names.
//!
//! ```
//! use latchkey_token::{verify, Algorithm, AccessClaims, JwkSet, SigningKey, Validation,
//!                      VerifyError, VerifyingKeys, JWT_VERSION};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = 1_700_000_000;
//! let key = SigningKey::generate(Algorithm::RS512)?;
//! let claims = AccessClaims {
//!     iss: "https://lms.example.com/oauth2".into(),
//!     aud: "openedx".into(),
//!     exp: now + 3600,
//!     iat: now,
//!     jti: "b2d3c1".into(),
//!     sub: "0123456789abcdef0123456789abcdef".into(),
//!     preferred_username: "honor".into(),
//!     scopes: vec!["read".into(), "email".into()],
//!     filters: vec!["user:me".into()],
//!     is_restricted: false,
//!     email_verified: true,
//!     grant_type: "password".into(),
//!     version: JWT_VERSION.into(),
//!     client_id: "mobile".into(),
//!     user_id: None,
//!     email: Some("honor@example.com".into()),
//!     name: None,
//!     given_name: None,
//!     family_name: None,
//!     administrator: None,
//!     superuser: None,
//!     token_use: None,
//! };
//! let jwt = key.sign(&claims)?;
//!
//! // A resource server builds its keys once from the published JWK Set ...
//! let jwks = JwkSet { keys: vec![key.public_jwk()] };
//! let keys = VerifyingKeys::from_jwk_set(&jwks)?;
//! // ... and verifies every request's token against them.
//! let mut validation = Validation::new("https://lms.example.com/oauth2", "openedx");
//! validation.required_version_major = Some(1);
//! let verified: AccessClaims = verify(&jwt, &keys, &validation, now + 60)?;
//! assert_eq!(verified, claims);
//!
//! let late = verify::<AccessClaims>(&jwt, &keys, &validation, now + 3600);
//! assert_eq!(late, Err(VerifyError::Expired));
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs, unreachable_pub)]

mod alg;
mod b64;
mod claims;
mod compact;
mod error;
mod jwk;
mod key;
mod keyset;
mod private_jwk;
mod verify;

pub use alg::Algorithm;
pub use claims::{AccessClaims, IdClaims, JWT_VERSION};
pub use compact::{decode_header, split_for_cookies, Header};
pub use error::{ParseAlgorithmError, TokenError, VerifyError};
pub use jwk::{Jwk, JwkSet};
pub use key::SigningKey;
pub use keyset::VerifyingKeys;
pub use private_jwk::PrivateJwkError;
pub use verify::{verify, Validation};

// Services build keys once and share them across tasks: a field that is not `Send + Sync` must
// fail to compile here, not in the services.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SigningKey>();
    assert_send_sync::<VerifyingKeys>();
};
