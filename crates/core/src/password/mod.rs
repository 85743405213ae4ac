//! Password hashing: argon2id for everything new. Hashes imported from Django (Open edX), whose
//! forms `stored` identifies, are accepted so that imported users can sign in, and replaced by
//! argon2id on their next successful sign-in. The server verifies on a [`HashingPool`]: a thread
//! per core, each reusing its own memory.

mod argon;
mod django_bcrypt;
mod django_pbkdf2;
mod pool;
mod stored;

pub use argon::HashMemory;
pub use pool::{HashingPool, PoolError, DEFAULT_QUEUE_PER_THREAD};
pub use stored::{can_match, HashFormatError, StoredHash, UNUSABLE_PREFIX};

use ::argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use ::argon2::{Algorithm, Argon2, Params, Version};

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

/// Django's `PBKDF2PasswordHasher` iterations since Django 4.2 (Open edX's), for decoys when no
/// stored hash says otherwise.
pub const DJANGO_DEFAULT_ITERATIONS: u32 = 600_000;

/// The work spent for a login that names no user (or a user no password can match), so that its
/// answer takes as long as a real user's would. Imported Open edX users keep Django's pbkdf2
/// hashes until they next sign in, and pbkdf2 at 600 000 rounds costs several times argon2id: an
/// argon2id decoy alone would tell "no such user" from "imported user, wrong password".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoy {
    Argon2id,
    DjangoPbkdf2 { iterations: u32 },
}

/// Whether `hash` is Django's `pbkdf2_sha256`, and its iteration count.
pub fn django_iterations(hash: &str) -> Option<u32> {
    match StoredHash::parse(hash) {
        Ok(StoredHash::DjangoPbkdf2(h)) if hash.starts_with("pbkdf2_sha256$") => {
            Some(h.iterations())
        }
        _ => None,
    }
}

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

    /// Checks `password` against `stored`. A hash no password can match (none, Django's unusable
    /// marker, or one that cannot be verified) still costs one argon2id verification and says
    /// `Mismatch`; sign-in gives such accounts a decoy first (see `signin.rs`).
    pub fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
        memory: &mut HashMemory,
    ) -> PasswordCheck {
        let parsed = match stored.map(StoredHash::parse) {
            Some(Ok(parsed)) => parsed,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "a stored password hash cannot be verified");
                self.burn(password, memory);
                return PasswordCheck::Mismatch;
            }
            None => {
                self.burn(password, memory);
                return PasswordCheck::Mismatch;
            }
        };
        let matched = match &parsed {
            StoredHash::Argon2 { phc, .. } => argon::phc_matches(password, phc, memory),
            StoredHash::DjangoPbkdf2(h) => h.matches(password),
            StoredHash::DjangoBcryptSha256(h) => h.matches(password),
            StoredHash::Unusable => {
                self.burn(password, memory);
                false
            }
        };
        match (matched, &parsed) {
            (false, _) => PasswordCheck::Mismatch,
            (true, StoredHash::Argon2 { phc, django: false }) => PasswordCheck::Match {
                upgrade: !self.is_current(phc),
            },
            (true, _) => PasswordCheck::Match { upgrade: true },
        }
    }

    /// Whether a Latchkey hash was made with today's algorithm and parameters.
    fn is_current(&self, parsed: &PasswordHash<'_>) -> bool {
        parsed.algorithm.as_str() == "argon2id"
            && Params::try_from(parsed).is_ok_and(|p| {
                (p.m_cost(), p.t_cost(), p.p_cost())
                    == (
                        self.params.m_cost(),
                        self.params.t_cost(),
                        self.params.p_cost(),
                    )
            })
    }

    /// Spends the time of checking `password` against a stored hash of the `decoy` kind, and says
    /// `Mismatch`: for logins that name no user.
    pub fn verify_decoy(
        &self,
        password: &str,
        decoy: Decoy,
        memory: &mut HashMemory,
    ) -> PasswordCheck {
        match decoy {
            Decoy::Argon2id => self.burn(password, memory),
            Decoy::DjangoPbkdf2 { iterations } => {
                let decoy = django_pbkdf2::decoy_hash(iterations);
                if let Ok(StoredHash::DjangoPbkdf2(h)) = StoredHash::parse(&decoy) {
                    std::hint::black_box(h.matches(password));
                }
            }
        }
        PasswordCheck::Mismatch
    }

    fn burn(&self, password: &str, memory: &mut HashMemory) {
        if let Ok(parsed) = PasswordHash::new(&self.dummy) {
            let _ = argon::phc_matches(password, &parsed, memory);
        }
    }
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
            h.verify("correct horse", Some(&stored), &mut HashMemory::default()),
            PasswordCheck::Match { upgrade: false }
        );
        assert_eq!(
            h.verify("wrong", Some(&stored), &mut HashMemory::default()),
            PasswordCheck::Mismatch
        );
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
            stronger.verify("pw", Some(&stored), &mut HashMemory::default()),
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
            h.verify("edx", Some(DJANGO_EDX), &mut HashMemory::default()),
            PasswordCheck::Match { upgrade: true }
        );
        assert_eq!(
            h.verify("edX", Some(DJANGO_EDX), &mut HashMemory::default()),
            PasswordCheck::Mismatch
        );
    }

    #[test]
    fn django_iterations_are_read_from_the_hash() {
        assert_eq!(django_iterations(DJANGO_EDX), Some(600_000));
        assert_eq!(django_iterations("$argon2id$v=19$m=1024"), None);
        assert_eq!(django_iterations("pbkdf2_sha256$x$salt$AAAA"), None);
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
            "pbkdf2_sha256$10000001$PAQ8wKbvHZtv$/4Rhro23z9a/DABOaceu/Fi3Hed9YQ2bA9aknkn7NCs=",
            "",
        ] {
            assert_eq!(
                h.verify("edx", Some(bad), &mut HashMemory::default()),
                PasswordCheck::Mismatch,
                "{bad}"
            );
        }
        assert_eq!(
            h.verify("edx", None, &mut HashMemory::default()),
            PasswordCheck::Mismatch
        );
    }

    /// Django's `make_password(None)`: `!` and 40 random characters. Not even that text matches.
    #[test]
    fn an_unusable_password_never_matches() {
        let h = fast();
        let unusable = "!Xq3wM0qSAkD2Ijg1oZq8rWZ7yTiVrjv5V8VpVq1S";
        for guess in [unusable, &unusable[1..], "", "!"] {
            assert_eq!(
                h.verify(guess, Some(unusable), &mut HashMemory::default()),
                PasswordCheck::Mismatch
            );
        }
        assert!(!can_match(unusable));
    }

    /// Django's argon2 form is verified like Latchkey's own, and always asks for an upgrade: the
    /// stored form is Django's, even at Latchkey's parameters.
    #[test]
    fn djangos_argon2_form_verifies_and_asks_for_upgrade() {
        let h = fast();
        let ours = h.hash("pw", &OsRandom).unwrap();
        let djangos = format!("argon2{ours}");
        assert_eq!(
            h.verify("pw", Some(&djangos), &mut HashMemory::default()),
            PasswordCheck::Match { upgrade: true }
        );
        assert_eq!(
            h.verify("pw ", Some(&djangos), &mut HashMemory::default()),
            PasswordCheck::Mismatch
        );
    }
}
