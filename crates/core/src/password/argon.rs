//! The argon2 family: Latchkey's own PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) and
//! Django's `Argon2PasswordHasher` form, which is the same PHC string behind an `argon2` prefix
//! (`argon2$argon2id$…` since Django 3.2, `argon2$argon2i$…` before). Both are verified by one
//! function in reusable memory.

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use super::stored::HashFormatError;

const DJANGO: &str = "argon2";

/// Django's default cost (m=102400 KiB, t=2) sixteen times over, in KiB × passes: the work one
/// imported row may ask for, in line with the pbkdf2 bound (see docs/design/openedx-migration.md).
const MAX_DJANGO_WORK: u64 = 16 * 102_400 * 2;
/// 1 GiB: a row asking for more would hold that much memory on a hashing thread per attempt.
const MAX_DJANGO_MEMORY_KIB: u32 = 1024 * 1024;

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

/// Latchkey's own stored form: any PHC string naming an argon2 variant.
pub(super) fn parse_phc(encoded: &str) -> Result<PasswordHash<'_>, HashFormatError> {
    let parsed = PasswordHash::new(encoded).map_err(|_| malformed("argon2", "not a PHC string"))?;
    Algorithm::try_from(parsed.algorithm)
        .map_err(|_| malformed("argon2", "not an argon2 variant"))?;
    Ok(parsed)
}

/// Django's form, `rest` being what follows `argon2`: a PHC string whose version is spelled out
/// (argon2-cffi always writes it) and whose cost stays within the bounds above.
pub(super) fn parse_django(rest: &str) -> Result<PasswordHash<'_>, HashFormatError> {
    let parsed = PasswordHash::new(rest).map_err(|_| malformed(DJANGO, "not a PHC string"))?;
    if !matches!(parsed.algorithm.as_str(), "argon2id" | "argon2i") {
        return Err(malformed(DJANGO, "variant is neither argon2id nor argon2i"));
    }
    if parsed.version != Some(0x13) {
        return Err(malformed(DJANGO, "version is not v=19"));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(malformed(DJANGO, "salt or hash missing"));
    }
    let params = Params::try_from(&parsed).map_err(|_| malformed(DJANGO, "bad parameters"))?;
    let work = u64::from(params.m_cost()) * u64::from(params.t_cost());
    if params.m_cost() > MAX_DJANGO_MEMORY_KIB || work > MAX_DJANGO_WORK {
        return Err(HashFormatError::TooCostly {
            algorithm: DJANGO,
            cost: format!(
                "m={},t={},p={}",
                params.m_cost(),
                params.t_cost(),
                params.p_cost()
            ),
        });
    }
    Ok(parsed)
}

fn malformed(algorithm: &'static str, problem: &'static str) -> HashFormatError {
    HashFormatError::Malformed { algorithm, problem }
}

/// What argon2's `verify_password` does, in `memory` instead of a fresh allocation: the stored PHC
/// string names its own algorithm, version and parameters, and argon2 honours them.
pub(super) fn phc_matches(
    password: &str,
    parsed: &PasswordHash<'_>,
    memory: &mut HashMemory,
) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, SaltString};

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
    fn django_rows_beyond_the_bounds_are_refused_before_any_work() {
        let salt = "c2FsdHNhbHRzYWx0c2FsdA";
        let hash = "AAAAAAAAAAAAAAAAAAAAAA";
        for (params, too_costly) in [
            ("m=102400,t=2,p=8", false),
            ("m=1048576,t=3,p=8", false),
            ("m=1048577,t=1,p=8", true),
            ("m=1048576,t=4,p=8", true),
            ("m=8,t=409601,p=1", true),
        ] {
            let row = format!("$argon2id$v=19${params}${salt}${hash}");
            let result = parse_django(&row);
            assert_eq!(
                matches!(result, Err(HashFormatError::TooCostly { .. })),
                too_costly,
                "{params}: {result:?}"
            );
        }
    }

    #[test]
    fn django_rows_must_say_which_argon2_they_are() {
        let tail = "m=512,t=2,p=2$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAA";
        for row in [
            format!("$argon2d$v=19${tail}"),
            format!("$argon2i${tail}"),
            format!("$argon2id$v=16${tail}"),
            "$argon2id$v=19$m=512,t=2,p=2".to_owned(),
            "argon2id$v=19".to_owned(),
        ] {
            assert!(
                matches!(parse_django(&row), Err(HashFormatError::Malformed { .. })),
                "{row}"
            );
        }
        assert!(parse_django(&format!("$argon2i$v=19${tail}")).is_ok());
    }
}
