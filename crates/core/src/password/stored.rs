//! What a stored password hash is. Latchkey writes argon2id PHC strings (`$argon2id$…`); users
//! imported from Django (Open edX) keep what Django's hashers wrote, `<algorithm>$…`, which is
//! identified as Django's `identify_hasher` does, by the text before the first `$`, until their
//! next sign-in replaces it. Each form is checked against bounds on its cost here, before any
//! work: a hostile or corrupt row must not make one sign-in attempt expensive.

use ::argon2::password_hash::PasswordHash;

use super::argon;
use super::django_bcrypt::BcryptSha256Hash;
use super::django_pbkdf2::{Pbkdf2Hash, Prf};

/// Django's `make_password(None)` (an account that may not sign in with a password, such as a
/// retired one) writes this prefix and 40 random characters; no hash starts with it.
pub const UNUSABLE_PREFIX: char = '!';

/// Why a stored hash cannot be verified. It names the algorithm and the problem, never the text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HashFormatError {
    #[error("the password hash names an algorithm Latchkey does not verify ({0})")]
    UnknownAlgorithm(String),
    #[error("the password hash is not in any form Latchkey knows")]
    Unrecognised,
    #[error("malformed {algorithm} password hash: {problem}")]
    Malformed {
        algorithm: &'static str,
        problem: &'static str,
    },
    #[error("{algorithm} password hash costs more than Latchkey verifies ({cost})")]
    TooCostly {
        algorithm: &'static str,
        cost: String,
    },
}

/// A stored hash, parsed and within bounds.
#[derive(Debug)]
pub enum StoredHash<'a> {
    /// Latchkey's own PHC string, or Django's argon2 form (`django`) with its prefix dropped.
    Argon2 {
        phc: PasswordHash<'a>,
        django: bool,
    },
    DjangoPbkdf2(Pbkdf2Hash<'a>),
    DjangoBcryptSha256(BcryptSha256Hash<'a>),
    /// No password matches it.
    Unusable,
}

impl<'a> StoredHash<'a> {
    pub fn parse(encoded: &'a str) -> Result<Self, HashFormatError> {
        if encoded.starts_with(UNUSABLE_PREFIX) {
            return Ok(StoredHash::Unusable);
        }
        if encoded.starts_with('$') {
            return argon::parse_phc(encoded).map(|phc| StoredHash::Argon2 { phc, django: false });
        }
        let Some((algorithm, rest)) = encoded.split_once('$') else {
            return Err(HashFormatError::Unrecognised);
        };
        match algorithm {
            "pbkdf2_sha256" => Pbkdf2Hash::parse(Prf::Sha256, rest).map(StoredHash::DjangoPbkdf2),
            "pbkdf2_sha1" => Pbkdf2Hash::parse(Prf::Sha1, rest).map(StoredHash::DjangoPbkdf2),
            // `bcrypt_sha256$$2b$…`: what follows the separator is bcrypt's own `$2b$…`.
            "bcrypt_sha256" => BcryptSha256Hash::parse(rest).map(StoredHash::DjangoBcryptSha256),
            // `argon2$argon2id$…`: the separator is the PHC string's leading `$`.
            "argon2" => argon::parse_django(&encoded[algorithm.len()..])
                .map(|phc| StoredHash::Argon2 { phc, django: true }),
            // Only a name like Django's is repeated in messages: anything else may be a hash.
            name if is_algorithm_name(name) => {
                Err(HashFormatError::UnknownAlgorithm(name.to_owned()))
            }
            _ => Err(HashFormatError::Unrecognised),
        }
    }
}

fn is_algorithm_name(name: &str) -> bool {
    (1..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether some password can match `encoded`: it is in a form Latchkey verifies, within bounds,
/// and not Django's unusable marker. The importer checks rows with [`StoredHash::parse`] for the
/// reason; sign-in uses this to give accounts that can never match the decoy an unknown login
/// gets.
pub fn can_match(encoded: &str) -> bool {
    !matches!(
        StoredHash::parse(encoded),
        Ok(StoredHash::Unusable) | Err(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_is_told_apart_by_its_prefix() {
        let cases = [
            (
                "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "latchkey argon2",
            ),
            (
                "argon2$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                "django argon2",
            ),
            (
                "pbkdf2_sha256$1000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                "pbkdf2",
            ),
            (
                "pbkdf2_sha1$1000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                "pbkdf2",
            ),
            (
                "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuu0123456789ABCDEFGHIJKLMNOPQRSTU",
                "bcrypt",
            ),
            ("!Xq3wM0qSAkD2Ijg1oZq8rWZ7yTiVrjv5V8VpVq1S", "unusable"),
            ("!", "unusable"),
        ];
        for (encoded, kind) in cases {
            let parsed = StoredHash::parse(encoded).unwrap();
            let got = match parsed {
                StoredHash::Argon2 { django: false, .. } => "latchkey argon2",
                StoredHash::Argon2 { django: true, .. } => "django argon2",
                StoredHash::DjangoPbkdf2(_) => "pbkdf2",
                StoredHash::DjangoBcryptSha256(_) => "bcrypt",
                StoredHash::Unusable => "unusable",
            };
            assert_eq!(got, kind, "{encoded}");
        }
    }

    #[test]
    fn unknown_forms_are_named_only_when_the_name_looks_like_one() {
        assert_eq!(
            StoredHash::parse("scrypt$16384$salt$8$1$AAAA").unwrap_err(),
            HashFormatError::UnknownAlgorithm("scrypt".into())
        );
        assert_eq!(
            StoredHash::parse("md5$$0123456789abcdef0123456789abcdef").unwrap_err(),
            HashFormatError::UnknownAlgorithm("md5".into())
        );
        for secretish in [
            "0123456789abcdef0123456789abcdef",
            "",
            "Hunter2$x",
            "bcrypt",
        ] {
            assert_eq!(
                StoredHash::parse(secretish).unwrap_err(),
                HashFormatError::Unrecognised,
                "{secretish}"
            );
        }
        assert!(matches!(
            StoredHash::parse("$pbkdf2-sha256$i=1000$c2FsdA$AAAA"),
            Err(HashFormatError::Malformed { .. })
        ));
    }

    #[test]
    fn only_usable_well_formed_hashes_can_match() {
        assert!(can_match(
            "pbkdf2_sha1$1000$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAA="
        ));
        assert!(!can_match("!unusable"));
        assert!(!can_match(
            "pbkdf2_sha1$99999999$salt$AAAAAAAAAAAAAAAAAAAAAAAAAAA="
        ));
        assert!(!can_match("sha1$salt$0123"));
    }
}
