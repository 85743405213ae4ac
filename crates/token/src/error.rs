//! Errors of this crate, one enum per concern: building and using keys ([`TokenError`]) and
//! checking a presented token ([`VerifyError`]).

use crate::Algorithm;

/// A key could not be generated, parsed, exported or used to sign.
///
/// These are operator-side failures (bad key material, a bug); none of them is caused by a client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The PKCS#8 document is not a usable private key for the algorithm it was loaded as.
    #[error("{alg} private key rejected: {reason}")]
    KeyRejected {
        /// The algorithm the key was meant for.
        alg: Algorithm,
        /// aws-lc-rs' short description of the problem.
        reason: &'static str,
    },
    /// A JWK lacks a member its key type needs, or a member does not decode (RFC 7517 §4, RFC 7518
    /// §6, RFC 8037 §2).
    #[error("invalid JWK: {0}")]
    InvalidJwk(&'static str),
    /// Two usable keys in one JWK Set share a `kid`, so a token's `kid` could not pick one key.
    #[error("JWK Set has more than one key with kid `{0}`")]
    DuplicateKid(String),
    /// The claims could not be serialised to JSON.
    #[error("claims do not serialise to JSON: {0}")]
    Claims(#[from] serde_json::Error),
    /// The cryptographic library failed to generate, export or sign (no detail is available).
    #[error("cryptographic operation failed: {0}")]
    Crypto(&'static str),
}

/// Why a presented token was refused.
///
/// The variants are distinct so that a resource server can say *why* in a client-safe way
/// ("Token has expired.") and can refetch the JWKS on [`VerifyError::UnknownKid`] only.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a JWS in compact serialization (RFC 7515 §7.1): wrong number of parts, bad base64url,
    /// a header that is not the JSON object we accept (no `kid`, a `crit` member, a `typ` other
    /// than `JWT`), or a token longer than any we issue.
    #[error("token is malformed")]
    Malformed,
    /// The header's `alg` is not one we verify (`none`, `HS256`, ...), is not in
    /// `Validation::algorithms`, or differs from the algorithm of the key named by `kid`.
    #[error("token algorithm is not accepted")]
    UnsupportedAlgorithm,
    /// No key with this `kid` is known: the caller may refetch the JWK Set and try again.
    #[error("token is signed with unknown key `{0}`")]
    UnknownKid(String),
    /// The signature does not verify with the key named by `kid`.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` has passed (with leeway) (RFC 7519 §4.1.4).
    #[error("token has expired")]
    Expired,
    /// `nbf` is still in the future (with leeway) (RFC 7519 §4.1.5).
    #[error("token is not yet valid")]
    NotYetValid,
    /// `iat` is in the future (with leeway) (RFC 7519 §4.1.6).
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// `iss` is missing or not the expected issuer (RFC 7519 §4.1.1).
    #[error("token issuer is not accepted")]
    WrongIssuer,
    /// `aud` is missing or does not contain the expected audience (RFC 7519 §4.1.3).
    #[error("token audience is not accepted")]
    WrongAudience,
    /// `version` is missing, unparseable or of another major version than required.
    #[error("token version is not supported")]
    WrongVersion,
    /// The payload is not a JSON object of the expected shape (including a missing `exp`).
    #[error("token claims are invalid")]
    BadClaims,
}

/// A string that names none of the supported JWS algorithms.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unsupported algorithm `{0}`: expected one of RS512, RS256, ES256, EdDSA")]
pub struct ParseAlgorithmError(pub(crate) String);
