//! Password hashing: argon2id for everything new; Django's `pbkdf2_sha256$…` accepted so that
//! imported Open edX users can sign in, and replaced by argon2id on their next successful sign-in.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::random::Random;

/// Argon2id cost settings. The defaults are OWASP's first recommendation (m=19 MiB, t=2, p=1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        PasswordParams {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    #[error("could not hash the password: {0}")]
    Hash(String),
}

/// What checking a password found out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The password is right. `upgrade` asks the caller to store a fresh argon2id hash because the
    /// stored one is Django's or uses other parameters.
    Match {
        upgrade: bool,
    },
    Mismatch,
}

/// Django rejects more than this too; it bounds the work one bad hash row can cause.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

pub struct PasswordHasher {
    argon: Argon2<'static>,
    params: Params,
    /// Verified against when the user does not exist, so that "no such user" and "wrong password"
    /// take the same time.
    dummy: String,
}

impl PasswordHasher {
    pub fn new(params: PasswordParams, random: &dyn Random) -> Result<Self, PasswordError> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| PasswordError::Params(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut hasher = PasswordHasher {
            argon,
            params,
            dummy: String::new(),
        };
        hasher.dummy = hasher.hash("latchkey dummy password", random)?;
        Ok(hasher)
    }

    pub fn hash(&self, password: &str, random: &dyn Random) -> Result<String, PasswordError> {
        let mut salt = [0u8; 16];
        random.fill(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
        self.argon
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    /// Checks `password` against `stored`; with no stored hash (unknown user, or a user without a
    /// usable password) it still spends the time of one argon2id verification and says `Mismatch`.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> PasswordCheck {
        match stored {
            Some(hash) if hash.starts_with("pbkdf2_sha256$") => {
                if verify_django_pbkdf2(password, hash) {
                    PasswordCheck::Match { upgrade: true }
                } else {
                    PasswordCheck::Mismatch
                }
            }
            Some(hash) => match PasswordHash::new(hash) {
                Ok(parsed) => self.verify_phc(password, &parsed),
                Err(_) => {
                    self.burn(password);
                    PasswordCheck::Mismatch
                }
            },
            None => {
                self.burn(password);
                PasswordCheck::Mismatch
            }
        }
    }

    fn verify_phc(&self, password: &str, parsed: &PasswordHash<'_>) -> PasswordCheck {
        // The stored hash names its own algorithm and parameters; argon2 honours them.
        match self.argon.verify_password(password.as_bytes(), parsed) {
            Ok(()) => {
                let current = parsed.algorithm.as_str() == "argon2id"
                    && Params::try_from(parsed).is_ok_and(|p| {
                        (p.m_cost(), p.t_cost(), p.p_cost())
                            == (
                                self.params.m_cost(),
                                self.params.t_cost(),
                                self.params.p_cost(),
                            )
                    });
                PasswordCheck::Match { upgrade: !current }
            }
            Err(_) => PasswordCheck::Mismatch,
        }
    }

    fn burn(&self, password: &str) {
        if let Ok(parsed) = PasswordHash::new(&self.dummy) {
            let _ = self.argon.verify_password(password.as_bytes(), &parsed);
        }
    }
}

/// Django's `PBKDF2PasswordHasher`: `pbkdf2_sha256$<iterations>$<salt>$<base64 of the 32-byte key>`.
fn verify_django_pbkdf2(password: &str, encoded: &str) -> bool {
    let mut parts = encoded.split('$');
    let (Some("pbkdf2_sha256"), Some(iterations), Some(salt), Some(expected), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return false;
    }
    let Ok(expected) = STANDARD.decode(expected) else {
        return false;
    };
    if expected.len() != 32 {
        return false;
    }
    let mut derived = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut derived,
    );
    derived.ct_eq(expected.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    fn fast() -> PasswordHasher {
        let params = PasswordParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        PasswordHasher::new(params, &OsRandom).unwrap()
    }

    #[test]
    fn argon2id_round_trip_and_no_upgrade_at_same_params() {
        let h = fast();
        let stored = h.hash("correct horse", &OsRandom).unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            h.verify("correct horse", Some(&stored)),
            PasswordCheck::Match { upgrade: false }
        );
        assert_eq!(h.verify("wrong", Some(&stored)), PasswordCheck::Mismatch);
    }

    #[test]
    fn other_params_ask_for_an_upgrade() {
        let stored = fast().hash("pw", &OsRandom).unwrap();
        let stronger = PasswordHasher::new(
            PasswordParams {
                memory_kib: 2048,
                iterations: 1,
                parallelism: 1,
            },
            &OsRandom,
        )
        .unwrap();
        assert_eq!(
            stronger.verify("pw", Some(&stored)),
            PasswordCheck::Match { upgrade: true }
        );
    }

    // Made by Django 4.2's own `make_password("edx", salt="PAQ8wKbvHZtv", hasher="pbkdf2_sha256")`
    // with its default 600000 iterations; printed by Django, not by us.
    const DJANGO_EDX: &str =
        "pbkdf2_sha256$600000$PAQ8wKbvHZtv$/4Rhro23z9a/DABOaceu/Fi3Hed9YQ2bA9aknkn7NCs=";

    #[test]
    fn django_pbkdf2_hash_verifies_and_asks_for_upgrade() {
        let h = fast();
        assert_eq!(
            h.verify("edx", Some(DJANGO_EDX)),
            PasswordCheck::Match { upgrade: true }
        );
        assert_eq!(h.verify("edX", Some(DJANGO_EDX)), PasswordCheck::Mismatch);
    }

    #[test]
    fn malformed_or_missing_hashes_never_match() {
        let h = fast();
        for bad in [
            "pbkdf2_sha256$0$salt$AAAA",
            "pbkdf2_sha256$abc$salt$AAAA",
            "pbkdf2_sha256$1$salt",
            "pbkdf2_sha256$1$salt$not base64!",
            "md5$whatever",
            "",
        ] {
            assert_eq!(h.verify("edx", Some(bad)), PasswordCheck::Mismatch, "{bad}");
        }
        assert_eq!(h.verify("edx", None), PasswordCheck::Mismatch);
    }
}
