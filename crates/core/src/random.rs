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

/// An identifier of 32 lowercase hex characters that sorts by `now` (seconds): 10 characters of the
/// time, then 88 random bits. Rows keyed or indexed by such ids (refresh-token families) are
/// appended at the end of their index instead of into a random page, so that a commit writes a
/// few pages for a batch rather than one per row. The time it tells is the row's creation time,
/// which the tokens' `iat` tells already.
pub fn ordered_id(random: &dyn Random, now: i64) -> String {
    let mut bytes = [0u8; 11];
    random.fill(&mut bytes);
    format!(
        "{:010x}{}",
        now.clamp(0, 0xff_ffff_ffff),
        hex::encode(bytes)
    )
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

    #[test]
    fn ordered_ids_sort_by_their_second_and_differ_within_one() {
        let earlier = ordered_id(&OsRandom, 1_700_000_000);
        let (a, b) = (
            ordered_id(&OsRandom, 1_700_000_001),
            ordered_id(&OsRandom, 1_700_000_001),
        );
        assert!(earlier < a && earlier < b);
        assert_ne!(a, b);
        for id in [&earlier, &a, &b] {
            assert_eq!(id.len(), 32);
            assert!(id
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        }
        // Before 1970 or past the tenth hex digit, the time is clamped: still 32 characters.
        assert_eq!(ordered_id(&OsRandom, -5).len(), 32);
        assert_eq!(ordered_id(&OsRandom, i64::MAX).len(), 32);
    }
}
