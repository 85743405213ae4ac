//! An RSA private key given as a JWK (RFC 7517 §4, RFC 7518 §6.3.2), the form in which Open edX's
//! LMS keeps its signing key (`JWT_PRIVATE_SIGNING_JWK`), so that it can go on signing under
//! Latchkey with the same `kid`.
//!
//! The LMS's own `generate_jwt_signing_key` writes `n`, `e`, `d`, `p` and `q` only; RFC 7518
//! §6.3.2 makes the CRT members (`dp`, `dq`, `qi`) part of a full private key, so they are derived
//! when all three are absent and checked against the derivation when present. Either way the key
//! is checked to be one RSA key (`n = p·q`, `d·e ≡ 1` modulo p−1 and q−1) before it is accepted.

use num_bigint::BigUint;
use serde::Deserialize;

use crate::{b64, Algorithm, SigningKey, TokenError};

/// RFC 7518 §3.3: RSA keys for RS256/RS512 are at least 2048 bits.
const MIN_RSA_BITS: u64 = 2048;
/// What aws-lc-rs signs with.
const MAX_RSA_BITS: u64 = 8192;

/// Why a JWK is not an RSA private signing key Latchkey can take on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrivateJwkError {
    /// The text is not a JSON object.
    #[error("not a JSON object: {0}")]
    NotJson(String),
    /// A JWK Set (`{"keys": [...]}`) was given where one key is expected.
    #[error(
        "this is a JWK Set (`keys`), not one key: give the LMS's JWT_PRIVATE_SIGNING_JWK, not \
         JWT_PUBLIC_SIGNING_JWK_SET"
    )]
    KeySet,
    /// `kty` is not `RSA`.
    #[error("the key type (kty) is {0:?}; only RSA keys (what Open edX signs with) are imported")]
    NotRsa(String),
    /// No private part: `d` is missing.
    #[error(
        "this is a public JWK (it has no private exponent `d`): Latchkey needs the private key to \
         sign, the LMS's JWT_PRIVATE_SIGNING_JWK"
    )]
    PublicOnly,
    /// A member the key needs is absent.
    #[error("the JWK has no `{0}`")]
    Missing(&'static str),
    /// A member is not unpadded base64url of a non-zero number (RFC 7518 §2, Base64urlUInt).
    #[error("the JWK's `{0}` is not base64url (RFC 7518 §2) of a positive number")]
    BadMember(&'static str),
    /// `kid` is missing or empty: verifiers that pin the LMS's key set find keys by it.
    #[error("the JWK has no `kid`: verifiers that pin the LMS's key set find the key by it")]
    NoKid,
    /// `alg` names an algorithm other than RS512 or RS256.
    #[error("the JWK's `alg` is {0:?}; an RSA signing key is RS512 (Open edX's) or RS256")]
    UnsupportedAlg(String),
    /// The modulus is shorter or longer than accepted.
    #[error("the key has {bits} bits; RSA signing keys must have 2048 to 8192 bits")]
    Size {
        /// The modulus length.
        bits: u64,
    },
    /// The members do not form one RSA key.
    #[error("the JWK's members do not form one RSA key: {0}")]
    Inconsistent(&'static str),
    /// The cryptographic library refused the key.
    #[error("the RSA key was rejected: {0}")]
    Rejected(&'static str),
}

/// The members of an RSA private JWK; others (`use`, `key_ops`, `x5c`, ...) are ignored.
#[derive(Deserialize)]
struct RsaPrivateJwk {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
    dp: Option<String>,
    dq: Option<String>,
    qi: Option<String>,
    /// Present only in a JWK Set, given by mistake.
    keys: Option<serde_json::Value>,
    /// RFC 7518 §6.3.2.7: keys of more than two primes. Open edX never makes them.
    oth: Option<serde_json::Value>,
}

impl SigningKey {
    /// Parses an RSA private JWK into a signing key that keeps the JWK's `kid`. The algorithm is
    /// the JWK's `alg` when it has one, else `default_alg` (Open edX signs with RS512 and does not
    /// write `alg` into its JWK).
    pub fn from_private_jwk(
        json: &str,
        default_alg: Algorithm,
    ) -> Result<SigningKey, PrivateJwkError> {
        let jwk: RsaPrivateJwk =
            serde_json::from_str(json).map_err(|e| PrivateJwkError::NotJson(e.to_string()))?;
        if jwk.keys.is_some() {
            return Err(PrivateJwkError::KeySet);
        }
        match jwk.kty.as_deref() {
            Some("RSA") => {}
            Some(other) => return Err(PrivateJwkError::NotRsa(other.to_owned())),
            None => return Err(PrivateJwkError::Missing("kty")),
        }
        if jwk.d.is_none() {
            return Err(PrivateJwkError::PublicOnly);
        }
        if jwk.oth.is_some() {
            return Err(PrivateJwkError::Inconsistent(
                "keys of more than two primes (`oth`) are not supported",
            ));
        }
        let kid = jwk.kid.clone().filter(|k| !k.trim().is_empty());
        let kid = kid.ok_or(PrivateJwkError::NoKid)?;
        let alg = match jwk.alg.as_deref() {
            None | Some("") => default_alg,
            Some("RS512") => Algorithm::RS512,
            Some("RS256") => Algorithm::RS256,
            Some(other) => return Err(PrivateJwkError::UnsupportedAlg(other.to_owned())),
        };
        if !matches!(alg, Algorithm::RS512 | Algorithm::RS256) {
            return Err(PrivateJwkError::UnsupportedAlg(alg.as_str().to_owned()));
        }
        let parts = RsaParts::from_jwk(&jwk)?;
        let rejected = |e: TokenError| match e {
            TokenError::KeyRejected { reason, .. } => PrivateJwkError::Rejected(reason),
            _ => PrivateJwkError::Rejected("the key could not be used"),
        };
        let key = SigningKey::from_pkcs1(alg, &parts.to_pkcs1_der()).map_err(rejected)?;
        key.with_kid(kid).map_err(rejected)
    }
}

/// The eight numbers of a two-prime RSA private key (RFC 8017 §3.2, second representation).
struct RsaParts {
    n: BigUint,
    e: BigUint,
    d: BigUint,
    p: BigUint,
    q: BigUint,
    dp: BigUint,
    dq: BigUint,
    qi: BigUint,
}

impl RsaParts {
    fn from_jwk(jwk: &RsaPrivateJwk) -> Result<Self, PrivateJwkError> {
        let n = number(&jwk.n, "n")?;
        let bits = n.bits();
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(PrivateJwkError::Size { bits });
        }
        let (e, d, p, q) = (
            number(&jwk.e, "e")?,
            number(&jwk.d, "d")?,
            number(&jwk.p, "p")?,
            number(&jwk.q, "q")?,
        );
        let one = BigUint::from(1u8);
        if p <= one || q <= one || &p * &q != n {
            return Err(PrivateJwkError::Inconsistent("n is not p·q"));
        }
        let (p1, q1) = (&p - &one, &q - &one);
        if (&d * &e) % &p1 != one || (&d * &e) % &q1 != one {
            return Err(PrivateJwkError::Inconsistent(
                "d is not the inverse of e modulo p−1 and q−1",
            ));
        }
        let derived_qi = q
            .modinv(&p)
            .ok_or(PrivateJwkError::Inconsistent("q has no inverse modulo p"))?;
        let derived = (&d % &p1, &d % &q1, derived_qi);
        let crt = match (&jwk.dp, &jwk.dq, &jwk.qi) {
            (None, None, None) => derived,
            (Some(_), Some(_), Some(_)) => {
                let given = (
                    number(&jwk.dp, "dp")?,
                    number(&jwk.dq, "dq")?,
                    number(&jwk.qi, "qi")?,
                );
                if given != derived {
                    return Err(PrivateJwkError::Inconsistent(
                        "dp, dq or qi does not follow from d, p and q",
                    ));
                }
                given
            }
            (None, _, _) => return Err(PrivateJwkError::Missing("dp")),
            (_, None, _) => return Err(PrivateJwkError::Missing("dq")),
            (_, _, None) => return Err(PrivateJwkError::Missing("qi")),
        };
        let (dp, dq, qi) = crt;
        Ok(RsaParts {
            n,
            e,
            d,
            p,
            q,
            dp,
            dq,
            qi,
        })
    }

    /// RFC 8017 Appendix A.1.2's `RSAPrivateKey` in DER: a SEQUENCE of the version (0, two primes)
    /// and the eight numbers, each a DER INTEGER.
    fn to_pkcs1_der(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let mut body = zeroize::Zeroizing::new(Vec::new());
        der_unsigned(&mut body, &BigUint::from(0u8));
        for value in [
            &self.n, &self.e, &self.d, &self.p, &self.q, &self.dp, &self.dq, &self.qi,
        ] {
            der_unsigned(&mut body, value);
        }
        let mut der = zeroize::Zeroizing::new(Vec::with_capacity(body.len() + 4));
        der.push(0x30);
        der_length(&mut der, body.len());
        der.extend_from_slice(&body);
        der
    }
}

fn number(member: &Option<String>, name: &'static str) -> Result<BigUint, PrivateJwkError> {
    let text = member.as_deref().ok_or(PrivateJwkError::Missing(name))?;
    let bytes = b64::decode(text).ok_or(PrivateJwkError::BadMember(name))?;
    let value = BigUint::from_bytes_be(&bytes);
    if value == BigUint::from(0u8) {
        return Err(PrivateJwkError::BadMember(name));
    }
    Ok(value)
}

/// A DER INTEGER (X.690 §8.3) of a non-negative number: big-endian, minimal, with a zero octet in
/// front when the high bit is set so that it does not read as negative.
fn der_unsigned(out: &mut Vec<u8>, value: &BigUint) {
    let mut bytes = value.to_bytes_be();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    out.push(0x02);
    der_length(out, bytes.len());
    out.extend_from_slice(&bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
}

/// A DER length (X.690 §8.1.3): short form under 128, else the count of length octets first.
fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let octets: Vec<u8> = len
        .to_be_bytes()
        .into_iter()
        .skip_while(|&b| b == 0)
        .collect();
    out.push(0x80 | octets.len() as u8);
    out.extend_from_slice(&octets);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_use_the_short_and_long_forms() {
        let mut out = Vec::new();
        der_length(&mut out, 5);
        der_length(&mut out, 200);
        der_length(&mut out, 1200);
        assert_eq!(out, [5, 0x81, 200, 0x82, 0x04, 0xb0]);
    }

    #[test]
    fn der_integers_stay_positive_and_minimal() {
        let mut out = Vec::new();
        der_unsigned(&mut out, &BigUint::from(0x7fu8));
        der_unsigned(&mut out, &BigUint::from(0x80u8));
        der_unsigned(&mut out, &BigUint::from(0u8));
        assert_eq!(out, [2, 1, 0x7f, 2, 2, 0, 0x80, 2, 1, 0]);
    }
}
