//! Verifying a JWT: the verification cache first, then `latchkey_token::verify` against the
//! current key set, with one refetch of the keys when the token names an unknown `kid`.

use std::sync::Arc;

use latchkey_token::{AccessClaims, Validation, VerifyError};

use crate::cache::{token_key, VerificationCache};
use crate::identity::Verified;
use crate::jwks::{KeySet, KeyStore};
use crate::rejection::InvalidToken;
use crate::stats::{Counter, Stats};

/// Why a JWT was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JwtFailure {
    Invalid(InvalidToken),
    /// No key set can be used right now.
    Unavailable,
}

pub(crate) struct JwtVerifier {
    pub(crate) keys: Arc<KeyStore>,
    pub(crate) validation: Validation,
    pub(crate) cache: VerificationCache,
    pub(crate) stats: Arc<Stats>,
}

impl JwtVerifier {
    /// The verified claims of `token` at `now` (unix seconds).
    pub(crate) async fn verify(&self, token: &str, now: i64) -> Result<Arc<Verified>, JwtFailure> {
        let key = token_key(token);
        if let Some(verified) = self.cache.get(&key, now) {
            self.stats.count(Counter::CacheHit);
            return Ok(verified);
        }
        let set = self
            .keys
            .current()
            .await
            .map_err(|_| JwtFailure::Unavailable)?;
        let claims = match self.check(token, &set, now) {
            // The issuer may have rotated its keys since we fetched them (key rotation publishes
            // a key before signing with it, but our copy can be up to `jwks_refresh_after` old).
            Err(VerifyError::UnknownKid(kid)) => match self.keys.after_unknown_kid(&set).await {
                Some(newer) => self.check(token, &newer, now),
                None => Err(VerifyError::UnknownKid(kid)),
            },
            checked => checked,
        }
        .map_err(|e| JwtFailure::Invalid(invalid(e)))?;
        let exp = claims.exp;
        let verified = Arc::new(Verified::Jwt(claims));
        self.cache.insert(key, verified.clone(), exp, now);
        Ok(verified)
    }

    fn check(&self, token: &str, set: &KeySet, now: i64) -> Result<AccessClaims, VerifyError> {
        self.stats.count(Counter::Verification);
        latchkey_token::verify(token, &set.keys, &self.validation, now)
    }
}

/// The client-facing reason for a verification error.
fn invalid(e: VerifyError) -> InvalidToken {
    match e {
        VerifyError::Malformed => InvalidToken::Malformed,
        VerifyError::UnsupportedAlgorithm => InvalidToken::UnsupportedAlgorithm,
        VerifyError::UnknownKid(_) => InvalidToken::UnknownKey,
        VerifyError::BadSignature => InvalidToken::BadSignature,
        VerifyError::Expired => InvalidToken::Expired,
        VerifyError::NotYetValid | VerifyError::IssuedInFuture => InvalidToken::NotYetValid,
        VerifyError::WrongIssuer => InvalidToken::WrongIssuer,
        VerifyError::WrongAudience => InvalidToken::WrongAudience,
        VerifyError::WrongVersion => InvalidToken::WrongVersion,
        VerifyError::BadClaims => InvalidToken::BadClaims,
        // A reason added to latchkey-token after this mapping: still a refusal, in general words.
        _ => InvalidToken::BadClaims,
    }
}
