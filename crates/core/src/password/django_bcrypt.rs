//! Django's `BCryptSHA256PasswordHasher`: `bcrypt_sha256$<a bcrypt hash>`, where bcrypt is run not
//! over the password but over the lowercase hex of its SHA-256. The hex is 64 ASCII bytes, under
//! bcrypt's 72-byte limit, so long passwords are not cut short.

use aws_lc_rs::digest;

use super::stored::HashFormatError;

const ALGORITHM: &str = "bcrypt_sha256";

/// Django's default cost is 12; each step doubles the work. 16 is sixteen times the default, in
/// line with the pbkdf2 bound (see docs/design/openedx-migration.md).
pub(super) const MAX_COST: u32 = 16;
/// bcrypt itself refuses less.
const MIN_COST: u32 = 4;

#[derive(Debug)]
pub struct BcryptSha256Hash<'a> {
    /// The bcrypt hash as bcrypt writes it: `$2b$<cost>$<22 salt><31 hash>`.
    bcrypt: &'a str,
}

impl<'a> BcryptSha256Hash<'a> {
    /// `rest` is what follows `bcrypt_sha256`, the bcrypt hash with its leading `$`.
    pub(super) fn parse(rest: &'a str) -> Result<Self, HashFormatError> {
        let malformed = |problem| HashFormatError::Malformed {
            algorithm: ALGORITHM,
            problem,
        };
        if rest.len() != 60 || !rest.is_ascii() {
            return Err(malformed("bcrypt part is not 60 ASCII characters"));
        }
        let (Some(prefix), Some(cost), Some(tail)) = (rest.get(..4), rest.get(4..6), rest.get(6..))
        else {
            return Err(malformed("bcrypt part is not 60 ASCII characters"));
        };
        if !matches!(prefix, "$2a$" | "$2b$" | "$2y$") || !tail.starts_with('$') {
            return Err(malformed("not a $2a$, $2b$ or $2y$ bcrypt hash"));
        }
        if !cost.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed("cost is not two digits"));
        }
        let cost: u32 = cost
            .parse()
            .map_err(|_| malformed("cost is not two digits"))?;
        if cost < MIN_COST {
            return Err(malformed("cost below bcrypt's minimum"));
        }
        if cost > MAX_COST {
            return Err(HashFormatError::TooCostly {
                algorithm: ALGORITHM,
                cost: format!("cost {cost}"),
            });
        }
        Ok(BcryptSha256Hash { bcrypt: rest })
    }

    /// The bcrypt crate compares the computed and stored hashes in constant time.
    pub(super) fn matches(&self, password: &str) -> bool {
        let prehash = hex::encode(digest::digest(&digest::SHA256, password.as_bytes()));
        bcrypt::verify(prehash, self.bcrypt).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT_AND_HASH: &str = "abcdefghijklmnopqrstuu0123456789ABCDEFGHIJKLMNOPQRSTU";

    #[test]
    fn costs_beyond_the_bound_are_refused_before_any_work() {
        assert!(BcryptSha256Hash::parse(&format!("$2b$16${SALT_AND_HASH}")).is_ok());
        for cost in ["17", "31", "99"] {
            let row = format!("$2b${cost}${SALT_AND_HASH}");
            assert!(
                matches!(
                    BcryptSha256Hash::parse(&row),
                    Err(HashFormatError::TooCostly { .. })
                ),
                "{row}"
            );
        }
    }

    #[test]
    fn what_is_not_a_bcrypt_hash_is_malformed() {
        for row in [
            format!("$2b$03${SALT_AND_HASH}"),
            format!("$2x$12${SALT_AND_HASH}"),
            format!("$2b$+1${SALT_AND_HASH}"),
            format!("$2b$12${SALT_AND_HASH}x"),
            format!("2b$12$${SALT_AND_HASH}"),
            format!("$2b$12$é{}", &SALT_AND_HASH[2..]),
        ] {
            assert!(
                matches!(
                    BcryptSha256Hash::parse(&row),
                    Err(HashFormatError::Malformed { .. })
                ),
                "{row}"
            );
        }
    }
}
