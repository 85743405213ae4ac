//! Verifying keys: the public keys of a JWK Set, parsed once and looked up by `kid`.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::signature::{
    ParsedPublicKey, RsaPublicKeyComponents, ECDSA_P256_SHA256_FIXED, ED25519,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_2048_8192_SHA512,
};

use crate::error::TokenError;
use crate::{b64, Algorithm, Jwk, JwkSet};

/// Smallest RSA modulus we accept, in bytes: RFC 7518 §3.3 requires 2048 bits or more.
const MIN_RSA_MODULUS_LEN: usize = 2048 / 8;

/// Parsed public keys by `kid`, each bound to the one algorithm its JWK names.
///
/// Build it once per JWK Set (parsing RSA keys is the costly part) and share it: it is
/// `Send + Sync` and verification only reads it.
pub struct VerifyingKeys {
    keys: HashMap<String, VerifyingKey>,
}

/// One parsed public key and the algorithm it may verify.
pub(crate) struct VerifyingKey {
    pub(crate) alg: Algorithm,
    pub(crate) key: ParsedPublicKey,
}

impl VerifyingKeys {
    /// Parses every usable key of `set`.
    ///
    /// Following RFC 7517 §5 ("implementations SHOULD ignore JWKs … that use "kty" values that are
    /// not understood by them, that are missing required members, or for which values are out of
    /// the supported ranges"), a key is *skipped*, not an error, when it has no `kid`, a `use`
    /// other than `sig`, an `alg` that is missing or not one of ours, a `kty`/`crv` that does not
    /// match its `alg`, or key material that does not parse (including RSA moduli under 2048
    /// bits). A JWK Set can therefore publish keys for algorithms a verifier does not know yet.
    /// Compare [`VerifyingKeys::len`] with the set's length to see how many were skipped.
    ///
    /// The one error is [`TokenError::DuplicateKid`]: two usable keys with the same `kid` would
    /// make the key a token names ambiguous.
    pub fn from_jwk_set(set: &JwkSet) -> Result<VerifyingKeys, TokenError> {
        let mut keys = HashMap::with_capacity(set.keys.len());
        for jwk in &set.keys {
            let Some(key) = VerifyingKey::from_jwk(jwk) else {
                continue;
            };
            if keys.insert(jwk.kid.clone(), key).is_some() {
                return Err(TokenError::DuplicateKid(jwk.kid.clone()));
            }
        }
        Ok(VerifyingKeys { keys })
    }

    /// Whether a usable key with this `kid` is known.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// How many usable keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key was usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The `kid` of every usable key, in no particular order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.get(kid)
    }
}

impl VerifyingKey {
    /// The parsed key, or `None` if `jwk` is not usable for verification (see
    /// [`VerifyingKeys::from_jwk_set`]).
    fn from_jwk(jwk: &Jwk) -> Option<VerifyingKey> {
        if jwk.kid.is_empty() || !(jwk.use_.is_empty() || jwk.use_ == "sig") {
            return None;
        }
        let alg: Algorithm = jwk.alg.parse().ok()?;
        if jwk.kty != alg.kty() {
            return None;
        }
        let key = match alg {
            Algorithm::RS512 | Algorithm::RS256 => {
                // RFC 7518 §6.3.1: n and e are big-endian without leading zeros; aws-lc-rs
                // refuses a leading zero, and the size floor is checked here, at parse time.
                let n = b64::decode(jwk.n.as_deref()?)?;
                let e = b64::decode(jwk.e.as_deref()?)?;
                if n.len() < MIN_RSA_MODULUS_LEN {
                    return None;
                }
                let params = match alg {
                    Algorithm::RS256 => &RSA_PKCS1_2048_8192_SHA256,
                    _ => &RSA_PKCS1_2048_8192_SHA512,
                };
                RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(params)
                    .ok()?
            }
            Algorithm::ES256 => {
                // RFC 7518 §6.2.1: x and y are the full 32-byte coordinates of a P-256 point.
                if jwk.crv.as_deref() != Some("P-256") {
                    return None;
                }
                let x = b64::decode(jwk.x.as_deref()?)?;
                let y = b64::decode(jwk.y.as_deref()?)?;
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                // Parsing checks that the point is on the curve.
                ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).ok()?
            }
            Algorithm::EdDSA => {
                // RFC 8037 §2: crv "Ed25519", x the 32-byte public key.
                if jwk.crv.as_deref() != Some("Ed25519") {
                    return None;
                }
                let x = b64::decode(jwk.x.as_deref()?)?;
                if x.len() != 32 {
                    return None;
                }
                ParsedPublicKey::new(&ED25519, x).ok()?
            }
        };
        Some(VerifyingKey { alg, key })
    }
}

impl fmt::Debug for VerifyingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.keys.iter().map(|(kid, key)| (kid, key.alg)))
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::SigningKey;

    fn jwks() -> (Vec<SigningKey>, JwkSet) {
        let keys: Vec<SigningKey> = [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256]
            .into_iter()
            .map(|alg| SigningKey::generate(alg).unwrap())
            .collect();
        let set = JwkSet {
            keys: keys.iter().map(SigningKey::public_jwk).collect(),
        };
        (keys, set)
    }

    #[test]
    fn parses_every_key_of_our_own_set() {
        let (signing, set) = jwks();
        let keys = VerifyingKeys::from_jwk_set(&set).unwrap();
        assert_eq!(keys.len(), 3);
        for key in &signing {
            assert!(keys.contains(key.kid()));
            assert_eq!(keys.get(key.kid()).unwrap().alg, key.algorithm());
        }
        assert!(!keys.contains("nope"));
        let mut kids: Vec<&str> = keys.kids().collect();
        kids.sort_unstable();
        assert_eq!(kids.len(), 3);
    }

    #[test]
    fn skips_what_it_cannot_use() {
        let (_, mut set) = jwks();
        let good = set.keys.len();
        let template = set.keys[0].clone(); // ES256
        let mut bad = Vec::new();
        let mut push = |f: &dyn Fn(&mut Jwk)| {
            let mut jwk = template.clone();
            jwk.kid = format!("bad-{}", bad.len());
            f(&mut jwk);
            bad.push(jwk);
        };
        push(&|j| j.kid.clear());
        push(&|j| j.use_ = "enc".into());
        push(&|j| j.alg = "HS256".into());
        push(&|j| j.alg = "PS256".into());
        push(&|j| j.alg = "RS256".into()); // kty EC with an RSA alg
        push(&|j| j.crv = Some("P-384".into()));
        push(&|j| j.x = Some("AAAA".into()));
        push(&|j| j.y = None);
        // A point that is not on the curve.
        push(&|j| j.y = Some(b64::encode(&[1u8; 32])));
        push(&|j| j.kty = "oct".into());
        // An RSA key under 2048 bits.
        push(&|j| {
            j.kty = "RSA".into();
            j.alg = "RS256".into();
            j.n = Some(b64::encode(&[0xc5; 128]));
            j.e = Some("AQAB".into());
        });
        set.keys.extend(bad);
        let keys = VerifyingKeys::from_jwk_set(&set).unwrap();
        assert_eq!(keys.len(), good);
    }

    #[test]
    fn a_missing_use_is_accepted() {
        let (_, mut set) = jwks();
        set.keys[0].use_.clear();
        assert_eq!(VerifyingKeys::from_jwk_set(&set).unwrap().len(), 3);
    }

    #[test]
    fn duplicate_kids_are_an_error() {
        let (_, mut set) = jwks();
        let mut twin = set.keys[2].clone();
        twin.kid = set.keys[1].kid.clone();
        set.keys.push(twin);
        let err = VerifyingKeys::from_jwk_set(&set).unwrap_err();
        assert!(matches!(err, TokenError::DuplicateKid(kid) if kid == set.keys[1].kid));
    }

    #[test]
    fn debug_lists_kids_and_algorithms() {
        let (signing, set) = jwks();
        let shown = format!("{:?}", VerifyingKeys::from_jwk_set(&set).unwrap());
        assert!(
            shown.contains(signing[0].kid()) && shown.contains("ES256"),
            "{shown}"
        );
    }
}
