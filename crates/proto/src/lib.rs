//! Latchkey's wire shapes, and nothing else: what goes over HTTP between Latchkey, its clients and
//! the resource servers that use `latchkey-guard`. No validation lives here; the server turns these
//! into validated domain values at the edge.
//!
//! ```
//! use latchkey_proto::{ErrorCode, ErrorResponse};
//! let body = ErrorResponse::new(ErrorCode::InvalidGrant, "refresh token is expired");
//! let json = serde_json::to_string(&body).unwrap();
//! assert_eq!(json, r#"{"error":"invalid_grant","error_description":"refresh token is expired"}"#);
//! ```

#![warn(missing_docs, unreachable_pub)]

mod authorize;
pub mod authz;
mod discovery;
mod error;
mod introspection;
mod mint;
mod revocation;
mod token;

pub use authorize::{AuthorizeRequest, UserInfo};
pub use discovery::Discovery;
pub use error::{ErrorCode, ErrorResponse};
pub use introspection::{
    IntrospectionJwtClaims, IntrospectionRequest, IntrospectionResponse, RevocationRequest,
    INTROSPECTION_JWT_MEDIA_TYPE, INTROSPECTION_JWT_TYP,
};
pub use mint::MintRequest;
pub use revocation::{NotBefore, Revocations, RevocationsQuery, RevokedJti};
pub use token::{TokenRequest, TokenResponse, TOKEN_TYPE_BEARER, TOKEN_TYPE_JWT};
