//! Randomness enters the domain as a parameter, so tests can make it deterministic.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::secret::Secret;

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync {
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        use rand::RngCore;
        rand::rngs::OsRng.fill_bytes(buf);
    }
}

/// A new 256-bit secret, URL-safe base64 without padding (43 characters).
pub fn secret_token(random: &dyn Random) -> Secret {
    let mut bytes = [0u8; 32];
    random.fill(&mut bytes);
    let text = URL_SAFE_NO_PAD.encode(bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    Secret::new(text)
}

/// `len` random bytes as lowercase hex: identifiers, not secrets.
pub fn hex_id(random: &dyn Random, len: usize) -> String {
    let mut bytes = vec![0u8; len];
    random.fill(&mut bytes);
    hex::encode(bytes)
}

/// A client id in the alphabet Open edX clients already accept: 40 alphanumeric characters.
pub fn client_id(random: &dyn Random) -> String {
    alphanumeric(random, 40)
}

/// `len` characters drawn uniformly from `[A-Za-z0-9]` (client ids, Django's CSRF secrets).
pub fn alphanumeric(random: &dyn Random, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut b = [0u8; 64];
        random.fill(&mut b);
        // Rejection sampling keeps the distribution uniform: 248 = 4 * 62.
        for byte in b.iter().filter(|&&x| x < 248) {
            if out.len() == len {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_256_bits_and_differ() {
        let a = secret_token(&OsRandom);
        let b = secret_token(&OsRandom);
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn client_ids_are_40_alphanumerics() {
        let id = client_id(&OsRandom);
        assert_eq!(id.len(), 40);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
