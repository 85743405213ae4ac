//! Password hashing: argon2id for everything new; Django's `pbkdf2_sha256$…` accepted so that
//! imported Open edX users can sign in, and replaced by argon2id on their next successful sign-in.
//! The server verifies on a [`HashingPool`]: a thread per core, each reusing its own memory.

mod pool;

pub use pool::{HashingPool, PoolError, DEFAULT_QUEUE_PER_THREAD};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

/// Django's `PBKDF2PasswordHasher` iterations since Django 4.2 (Open edX's), for decoys when no
/// stored hash says otherwise.
pub const DJANGO_DEFAULT_ITERATIONS: u32 = 600_000;

/// The work spent for a login that names no user, so that its answer takes as long as a real
/// user's would. Imported Open edX users keep Django's pbkdf2 hashes until they next sign in, and
/// pbkdf2 at 600 000 rounds costs several times argon2id: an argon2id decoy alone would tell
/// "no such user" from "imported user, wrong password".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoy {
    Argon2id,
    DjangoPbkdf2 { iterations: u32 },
}

/// Whether `hash` is one of Django's, and its iteration count.
pub fn django_iterations(hash: &str) -> Option<u32> {
    let rest = hash.strip_prefix("pbkdf2_sha256$")?;
    rest.split('$').next()?.parse().ok()
}

/// Argon2's working memory, kept between verifications by whoever verifies many passwords.
/// argon2's own `verify_password` allocates and zeroes a fresh array per hash (19 MiB at the
/// defaults): on tokio's blocking threads that cost a password grant ~20 % of its CPU in page
/// faults and memset, and spread the arrays over many malloc arenas (BENCHMARKS.md).
#[derive(Default)]
pub struct HashMemory {
    blocks: Vec<Block>,
}

impl HashMemory {
    /// A stored hash with a larger memory cost than this many blocks is verified with memory that
    /// is given back afterwards, so one odd row cannot pin a large array to a thread for good.
    const KEEP_LIMIT: usize = 256 * 1024;

    fn at_least(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            self.blocks.resize(count, Block::default());
        }
        &mut self.blocks[..count]
    }

    fn trim(&mut self) {
        if self.blocks.len() > Self::KEEP_LIMIT {
            self.blocks = Vec::new();
        }
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

    /// Checks `password` against `stored`; with no stored hash (unknown user, or a user without a
    /// usable password) it still spends the time of one argon2id verification and says `Mismatch`.
    pub fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
        memory: &mut HashMemory,
    ) -> PasswordCheck {
        match stored {
            Some(hash) if hash.starts_with("pbkdf2_sha256$") => {
                if verify_django_pbkdf2(password, hash) {
                    PasswordCheck::Match { upgrade: true }
                } else {
                    PasswordCheck::Mismatch
                }
            }
            Some(hash) => match PasswordHash::new(hash) {
                Ok(parsed) => self.verify_phc(password, &parsed, memory),
                Err(_) => {
                    self.burn(password, memory);
                    PasswordCheck::Mismatch
                }
            },
            None => {
                self.burn(password, memory);
                PasswordCheck::Mismatch
            }
        }
    }

    fn verify_phc(
        &self,
        password: &str,
        parsed: &PasswordHash<'_>,
        memory: &mut HashMemory,
    ) -> PasswordCheck {
        match phc_matches(password, parsed, memory) {
            true => {
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
            false => PasswordCheck::Mismatch,
        }
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
                std::hint::black_box(verify_django_pbkdf2(
                    password,
                    &django_decoy_hash(iterations),
                ));
            }
        }
        PasswordCheck::Mismatch
    }

    fn burn(&self, password: &str, memory: &mut HashMemory) {
        if let Ok(parsed) = PasswordHash::new(&self.dummy) {
            let _ = phc_matches(password, &parsed, memory);
        }
    }
}

/// What argon2's `verify_password` does, in `memory` instead of a fresh allocation: the stored PHC
/// string names its own algorithm, version and parameters, and argon2 honours them.
fn phc_matches(password: &str, parsed: &PasswordHash<'_>, memory: &mut HashMemory) -> bool {
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(parsed) else {
        return false;
    };
    // A PHC salt is at most 64 base64 characters (48 bytes), an output at most 64 bytes.
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out_buf = [0u8; 64];
    let Some(out) = out_buf.get_mut(..expected.len()) else {
        return false;
    };
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let computed = argon
        .hash_password_into_with_memory(password.as_bytes(), salt, out, memory.at_least(blocks))
        .is_ok();
    memory.trim();
    computed && bool::from(out.ct_eq(expected.as_bytes()))
}

/// A well-formed Django hash that no password matches (its key is all zeros).
fn django_decoy_hash(iterations: u32) -> String {
    let iterations = iterations.clamp(1, MAX_PBKDF2_ITERATIONS);
    format!(
        "pbkdf2_sha256${iterations}$latchkeydecoy${}",
        STANDARD.encode([0u8; 32])
    )
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
            h.verify("correct horse", Some(&stored), &mut HashMemory::default()),
            PasswordCheck::Match { upgrade: false }
        );
        assert_eq!(
            h.verify("wrong", Some(&stored), &mut HashMemory::default()),
            PasswordCheck::Mismatch
        );
    }

    /// `phc_matches` re-does argon2's own `verify_password` in reused memory: the crate's verifier is
    /// the oracle, over every variant a stored PHC string can name, with one memory buffer carried
    /// from hash to hash (growing and shrinking block counts).
    #[test]
    fn reused_memory_agrees_with_argon2s_own_verifier() {
        use argon2::password_hash::PasswordVerifier as _;
        let mut memory = HashMemory::default();
        let variants = [
            (Algorithm::Argon2id, Version::V0x13, 2048, 1, 1, 32),
            (Algorithm::Argon2id, Version::V0x13, 64, 3, 2, 32),
            (Algorithm::Argon2i, Version::V0x13, 1024, 2, 1, 16),
            (Algorithm::Argon2d, Version::V0x10, 512, 1, 4, 64),
            (Algorithm::Argon2id, Version::V0x10, 4096, 1, 1, 24),
        ];
        for (alg, version, m, t, p, len) in variants {
            let params = Params::new(m, t, p, Some(len)).unwrap();
            let argon = Argon2::new(alg, version, params);
            let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
            let stored = argon.hash_password(b"hunter2", &salt).unwrap().to_string();
            let parsed = PasswordHash::new(&stored).unwrap();
            for guess in ["hunter2", "hunter3", ""] {
                let oracle = Argon2::default()
                    .verify_password(guess.as_bytes(), &parsed)
                    .is_ok();
                assert_eq!(
                    phc_matches(guess, &parsed, &mut memory),
                    oracle,
                    "{stored} with {guess:?}"
                );
            }
        }
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

    /// The decoy is a real Django hash at the same iterations, verified by the same function as a
    /// real one, so it costs the same without a timed test.
    #[test]
    fn a_django_decoy_is_a_django_hash_at_the_same_iterations() {
        let decoy = django_decoy_hash(260_000);
        assert_eq!(django_iterations(&decoy), Some(260_000));
        assert!(!verify_django_pbkdf2("anything", &decoy));
        let parts: Vec<_> = decoy.split('$').collect();
        assert_eq!(STANDARD.decode(parts[3]).unwrap().len(), 32);
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
}
