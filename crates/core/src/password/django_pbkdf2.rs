//! Django's `PBKDF2PasswordHasher` and `PBKDF2SHA1PasswordHasher`:
//! `pbkdf2_sha256$<iterations>$<salt>$<base64 key>` (and `pbkdf2_sha1$…`), the key being
//! PBKDF2-HMAC over the UTF-8 password and salt, as long as the digest (RFC 8018 §5.2).

use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::stored::HashFormatError;

/// Django rejects more than this too; it bounds the work one bad hash row can cause.
pub(super) const MAX_ITERATIONS: u32 = 10_000_000;

/// The pseudo-random function a Django pbkdf2 hash names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Prf {
    Sha256,
    Sha1,
}

impl Prf {
    pub(super) fn algorithm(self) -> &'static str {
        match self {
            Prf::Sha256 => "pbkdf2_sha256",
            Prf::Sha1 => "pbkdf2_sha1",
        }
    }

    fn key_len(self) -> usize {
        match self {
            Prf::Sha256 => 32,
            Prf::Sha1 => 20,
        }
    }
}

#[derive(Debug)]
pub struct Pbkdf2Hash<'a> {
    prf: Prf,
    iterations: u32,
    salt: &'a str,
    key: Vec<u8>,
}

impl<'a> Pbkdf2Hash<'a> {
    /// `rest` is what follows `<algorithm>$`.
    pub(super) fn parse(prf: Prf, rest: &'a str) -> Result<Self, HashFormatError> {
        let algorithm = prf.algorithm();
        let malformed = |problem| HashFormatError::Malformed { algorithm, problem };
        let mut parts = rest.split('$');
        let (Some(iterations), Some(salt), Some(key), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("not iterations$salt$hash"));
        };
        let iterations = canonical_decimal(iterations)
            .filter(|&n| n > 0)
            .ok_or_else(|| malformed("iteration count is not a positive decimal"))?;
        let iterations = u32::try_from(iterations)
            .ok()
            .filter(|&n| n <= MAX_ITERATIONS)
            .ok_or_else(|| HashFormatError::TooCostly {
                algorithm,
                cost: format!("{iterations} iterations"),
            })?;
        if salt.is_empty() {
            return Err(malformed("empty salt"));
        }
        let key = STANDARD
            .decode(key)
            .map_err(|_| malformed("hash is not base64"))?;
        if key.len() != prf.key_len() {
            return Err(malformed("hash has the wrong length"));
        }
        Ok(Pbkdf2Hash {
            prf,
            iterations,
            salt,
            key,
        })
    }

    pub(super) fn iterations(&self) -> u32 {
        self.iterations
    }

    /// aws-lc-rs derives the key and compares it with the stored one in constant time.
    pub(super) fn matches(&self, password: &str) -> bool {
        let algorithm = match self.prf {
            Prf::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Prf::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
        };
        let Some(iterations) = NonZeroU32::new(self.iterations) else {
            return false;
        };
        pbkdf2::verify(
            algorithm,
            iterations,
            self.salt.as_bytes(),
            password.as_bytes(),
            &self.key,
        )
        .is_ok()
    }
}

/// Django re-encodes the count with `%d` and compares whole strings, so only the plain decimal
/// spelling of a number (no sign, no leading zero) can ever match.
fn canonical_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// A well-formed `pbkdf2_sha256` hash that no password matches (its key is all zeros): what a
/// decoy verifies against to cost what a real Django hash at `iterations` costs.
pub(super) fn decoy_hash(iterations: u32) -> String {
    let iterations = iterations.clamp(1, MAX_ITERATIONS);
    format!(
        "pbkdf2_sha256${iterations}$latchkeydecoy${}",
        STANDARD.encode([0u8; 32])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(encoded: &str) -> Result<Pbkdf2Hash<'_>, HashFormatError> {
        let (algorithm, rest) = encoded.split_once('$').unwrap();
        let prf = match algorithm {
            "pbkdf2_sha256" => Prf::Sha256,
            _ => Prf::Sha1,
        };
        Pbkdf2Hash::parse(prf, rest)
    }

    /// The decoy is a real Django hash at the same iterations, verified by the same function as a
    /// real one, so it costs the same without a timed test.
    #[test]
    fn a_decoy_is_a_django_hash_at_the_same_iterations() {
        let decoy = decoy_hash(260_000);
        let parsed = parse(&decoy).unwrap();
        assert_eq!(parsed.iterations(), 260_000);
        assert_eq!(parsed.prf, Prf::Sha256);
        assert!(!parsed.matches("anything"));
    }

    #[test]
    fn only_djangos_own_spelling_of_the_count_is_accepted() {
        let key = STANDARD.encode([0u8; 32]);
        for count in ["+1000", "01000", "1000 ", "", "1e3", "-1", "0"] {
            let row = format!("pbkdf2_sha256${count}$salt${key}");
            assert!(
                matches!(parse(&row), Err(HashFormatError::Malformed { .. })),
                "{row}"
            );
        }
        assert!(parse(&format!("pbkdf2_sha256$1000$salt${key}")).is_ok());
    }

    #[test]
    fn counts_beyond_the_bound_are_refused_before_any_work() {
        let key = STANDARD.encode([0u8; 20]);
        assert!(parse(&format!("pbkdf2_sha1$10000000$salt${key}")).is_ok());
        for count in ["10000001", "4294967296", "99999999999"] {
            let row = format!("pbkdf2_sha1${count}$salt${key}");
            assert!(
                matches!(parse(&row), Err(HashFormatError::TooCostly { .. })),
                "{row}"
            );
        }
    }

    #[test]
    fn a_key_of_the_other_digests_length_is_malformed() {
        let sha1_key = STANDARD.encode([0u8; 20]);
        let sha256_key = STANDARD.encode([0u8; 32]);
        assert!(parse(&format!("pbkdf2_sha256$1$salt${sha1_key}")).is_err());
        assert!(parse(&format!("pbkdf2_sha1$1$salt${sha256_key}")).is_err());
        assert!(parse(&format!("pbkdf2_sha1$1$${sha1_key}")).is_err());
        assert!(parse(&format!("pbkdf2_sha1$1$salt${sha1_key}$extra")).is_err());
    }
}
