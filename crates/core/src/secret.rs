//! Secrets as types: values that must never be logged, and their keyed hashes.
//!
//! Tokens and client secrets are long random values, so a keyed hash (HMAC-SHA256 under a server
//! key) is both fast and safe for them: there is nothing to brute-force. Passwords are the
//! exception and live in [`crate::password`].

use std::fmt;

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A secret string (token, client secret, password). `Debug` never shows it; memory is wiped on drop.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The secret itself, for the one place that must send or hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

/// The keyed hash under which a token, code or client secret is stored and looked up.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn from_bytes(bytes: &[u8]) -> Option<TokenHash> {
        <[u8; 32]>::try_from(bytes).ok().map(TokenHash)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time equality, for comparing a presented secret's hash with the stored one.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    // A prefix is enough to correlate log lines and reveals nothing useful.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

/// HMAC-SHA256 under the server's hashing key.
#[derive(Clone)]
pub struct SecretHasher {
    key: hmac::Key,
    /// A key of its own for [`SecretHasher::derive_key`], so that no value ever hashed with
    /// [`SecretHasher::hash`] (some are chosen by callers) can equal a derived key.
    derivation: hmac::Key,
}

impl SecretHasher {
    pub fn new(key: &[u8; 32]) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        let derivation = hmac::sign(&key, b"latchkey key derivation\0");
        SecretHasher {
            derivation: hmac::Key::new(hmac::HMAC_SHA256, derivation.as_ref()),
            key,
        }
    }

    pub fn hash(&self, value: &str) -> TokenHash {
        let tag = hmac::sign(&self.key, value.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        TokenHash(out)
    }

    /// A 32-byte key for `purpose`, derived from `value` under the server key: whoever holds
    /// `value` alone (say, an old token found with a database dump) cannot derive it.
    pub fn derive_key(&self, purpose: &str, value: &str) -> Zeroizing<[u8; 32]> {
        let mut ctx = hmac::Context::with_key(&self.derivation);
        ctx.update(purpose.as_bytes());
        ctx.update(&[0]);
        ctx.update(value.as_bytes());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// Does `presented` hash to `stored`? Compared in constant time.
    pub fn matches(&self, presented: &str, stored: &TokenHash) -> bool {
        self.hash(presented).ct_eq(stored)
    }
}

impl fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHasher(<key redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("hunter2-very-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn hashes_depend_on_the_key_and_the_value() {
        let a = SecretHasher::new(&[1; 32]);
        let b = SecretHasher::new(&[2; 32]);
        assert_ne!(a.hash("x"), b.hash("x"));
        assert_ne!(a.hash("x"), a.hash("y"));
        assert!(a.matches("x", &a.hash("x")));
        assert!(!a.matches("y", &a.hash("x")));
    }
}
