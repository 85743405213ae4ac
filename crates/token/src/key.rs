//! Signing keys: parsed private key pairs that produce compact JWS (RFC 7515 §7.1) JWTs.
//!
//! A key is parsed once and held for its lifetime, and the base64url JOSE header is computed once
//! too, so that signing a token is one JSON serialisation, two base64url encodings and the
//! signature itself.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    RSA_PKCS1_SHA256, RSA_PKCS1_SHA512,
};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::TokenError;
use crate::{b64, Algorithm, Jwk};

/// The `typ` of the JWTs [`SigningKey::sign`] makes (RFC 7519 §5.1).
const JWT_TYP: &str = "JWT";

/// Largest RSA signature we produce: aws-lc-rs accepts RSA keys of up to 8192 bits.
const MAX_RSA_SIGNATURE_LEN: usize = 8192 / 8;

/// A private key pair for one [`Algorithm`], with its `kid`.
///
/// `Debug` shows the `kid` and algorithm only. Private key material leaves only through
/// [`SigningKey::to_pkcs8`], in a buffer that is zeroed when dropped.
pub struct SigningKey {
    alg: Algorithm,
    pair: KeyPair,
    jwk: Jwk,
    /// `BASE64URL(UTF8(JOSE Header))` (RFC 7515 §5.1 step 2), computed once.
    header_b64: String,
}

enum KeyPair {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl SigningKey {
    /// Generates a fresh key: RSA-2048 for `RS512`/`RS256`, P-256 for `ES256`, Ed25519 for
    /// `EdDSA` (RFC 7518 §3.3 requires at least 2048 bits for RSA).
    pub fn generate(alg: Algorithm) -> Result<SigningKey, TokenError> {
        let pair = match alg {
            Algorithm::RS512 | Algorithm::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .map(KeyPair::Rsa)
                .map_err(|_| TokenError::Crypto("RSA key generation"))?,
            Algorithm::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map(KeyPair::Ecdsa)
                .map_err(|_| TokenError::Crypto("P-256 key generation"))?,
            Algorithm::EdDSA => Ed25519KeyPair::generate()
                .map(KeyPair::Ed25519)
                .map_err(|_| TokenError::Crypto("Ed25519 key generation"))?,
        };
        SigningKey::new(alg, pair)
    }

    /// Parses an unencrypted PKCS#8 private key (RFC 5208/5958) as a key for `alg`.
    ///
    /// Fails if the document holds another kind of key than `alg` needs (an EC key for `RS512`,
    /// a P-384 key for `ES256`, ...) or an RSA key outside 2048..=8192 bits.
    pub fn from_pkcs8(alg: Algorithm, pkcs8_der: &[u8]) -> Result<SigningKey, TokenError> {
        let rejected = |e: aws_lc_rs::error::KeyRejected| TokenError::KeyRejected {
            alg,
            reason: e.description_(),
        };
        let pair = match alg {
            Algorithm::RS512 | Algorithm::RS256 => {
                KeyPair::Rsa(RsaKeyPair::from_pkcs8(pkcs8_der).map_err(rejected)?)
            }
            Algorithm::ES256 => KeyPair::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8_der)
                    .map_err(rejected)?,
            ),
            Algorithm::EdDSA => {
                KeyPair::Ed25519(Ed25519KeyPair::from_pkcs8(pkcs8_der).map_err(rejected)?)
            }
        };
        SigningKey::new(alg, pair)
    }

    /// Parses an RSA private key in PKCS#1 DER (RFC 8017 Appendix A.1.2) as a key for `alg`,
    /// which must be RS512 or RS256; the key must have 2048..=8192 bits.
    pub(crate) fn from_pkcs1(alg: Algorithm, pkcs1_der: &[u8]) -> Result<SigningKey, TokenError> {
        let rejected = |reason| TokenError::KeyRejected { alg, reason };
        if !matches!(alg, Algorithm::RS512 | Algorithm::RS256) {
            return Err(rejected("not an RSA algorithm"));
        }
        let pair = RsaKeyPair::from_der(pkcs1_der).map_err(|e| rejected(e.description_()))?;
        SigningKey::new(alg, KeyPair::Rsa(pair))
    }

    /// The same key under another `kid`: a key taken over from another issuer keeps the `kid`
    /// its verifiers know it by, where Latchkey's own keys use their thumbprint.
    pub fn with_kid(mut self, kid: String) -> Result<SigningKey, TokenError> {
        if kid == self.jwk.kid {
            return Ok(self);
        }
        self.jwk.kid = kid;
        self.header_b64 = header_b64(self.alg, JWT_TYP, &self.jwk.kid)?;
        Ok(self)
    }

    /// Serialises the private key as PKCS#8 DER (v1 for RSA and P-256; v2, which carries the
    /// public key too, for Ed25519), in a buffer that is zeroed on drop.
    pub fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let failed = |_| TokenError::Crypto("PKCS#8 export");
        let der = match &self.pair {
            KeyPair::Rsa(pair) => {
                let doc: Pkcs8V1Der<'static> = pair.as_der().map_err(failed)?;
                doc.as_ref().to_vec()
            }
            KeyPair::Ecdsa(pair) => pair.to_pkcs8v1().map_err(failed)?.as_ref().to_vec(),
            KeyPair::Ed25519(pair) => pair.to_pkcs8().map_err(failed)?.as_ref().to_vec(),
        };
        Ok(Zeroizing::new(der))
    }

    /// The key id: the RFC 7638 JWK thumbprint (SHA-256, base64url) of the public key, unless the
    /// key was given another with [`SigningKey::with_kid`].
    pub fn kid(&self) -> &str {
        &self.jwk.kid
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The public key as a JWK with `kid`, `alg` and `use: "sig"`, ready for the JWK Set.
    pub fn public_jwk(&self) -> Jwk {
        self.jwk.clone()
    }

    /// Signs `claims` as a JWT in compact JWS serialization (RFC 7515 §7.1, RFC 7519 §7.1) with
    /// the header `{"alg":…,"typ":"JWT","kid":…}`.
    ///
    /// `claims` must serialise to a JSON object (RFC 7519 §7.2 step 10).
    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<String, TokenError> {
        self.sign_under(&self.header_b64, claims)
    }

    /// Signs `claims` like [`SigningKey::sign`], with `typ` in the header instead of `JWT`: an
    /// explicitly typed JWT (RFC 8725 §3.11) such as an introspection response
    /// (`token-introspection+jwt`, RFC 9701 §5), which [`verify`](crate::verify) and other
    /// verifiers of access tokens refuse, so that it cannot pass for one.
    pub fn sign_typed<C: Serialize>(&self, typ: &str, claims: &C) -> Result<String, TokenError> {
        self.sign_under(&header_b64(self.alg, typ, &self.jwk.kid)?, claims)
    }

    /// `header_b64 '.' BASE64URL(claims) '.' signature`, built in one buffer of the final size.
    fn sign_under<C: Serialize>(&self, header_b64: &str, claims: &C) -> Result<String, TokenError> {
        let payload = serde_json::to_vec(claims)?;
        if payload.first() != Some(&b'{') {
            return Err(TokenError::Claims(serde::ser::Error::custom(
                "JWT claims must serialise to a JSON object",
            )));
        }
        let mut jws = String::with_capacity(
            header_b64.len() + 2 + encoded_len(payload.len()) + encoded_len(self.signature_len()),
        );
        jws.push_str(header_b64);
        jws.push('.');
        b64::encode_into(&payload, &mut jws);
        self.append_signature(&mut jws)?;
        Ok(jws)
    }

    fn new(alg: Algorithm, pair: KeyPair) -> Result<SigningKey, TokenError> {
        let mut jwk = public_jwk(alg, &pair)?;
        jwk.kid = jwk.thumbprint()?;
        Ok(SigningKey {
            alg,
            pair,
            header_b64: header_b64(alg, JWT_TYP, &jwk.kid)?,
            jwk,
        })
    }

    /// Length of the raw signature: the modulus length for RSA, 64 bytes for P-256 (RFC 7518
    /// §3.4) and Ed25519 (RFC 8032 §5.1.6).
    fn signature_len(&self) -> usize {
        match &self.pair {
            KeyPair::Rsa(pair) => pair.public_modulus_len(),
            KeyPair::Ecdsa(_) | KeyPair::Ed25519(_) => 64,
        }
    }

    /// Signs `jws`, which holds the signing input of RFC 7515 §5.1 step 5
    /// (`ASCII(BASE64URL(header) || '.' || BASE64URL(payload))`), and appends `'.'` and the
    /// base64url signature (RFC 7518 §3.3, §3.4; RFC 8037 §3.1). RSA signs into a stack buffer.
    pub(crate) fn append_signature(&self, jws: &mut String) -> Result<(), TokenError> {
        let input = jws.as_bytes();
        let mut rsa_buf = [0u8; MAX_RSA_SIGNATURE_LEN];
        let ecdsa_sig;
        let ed25519_sig;
        let signature: &[u8] = match &self.pair {
            KeyPair::Rsa(pair) => {
                let padding = match self.alg {
                    Algorithm::RS256 => &RSA_PKCS1_SHA256,
                    _ => &RSA_PKCS1_SHA512,
                };
                let sig = rsa_buf
                    .get_mut(..pair.public_modulus_len())
                    .ok_or(TokenError::Crypto("RSA modulus too long"))?;
                // aws-lc-rs ignores the RNG argument (PKCS#1 v1.5 signing is deterministic).
                pair.sign(padding, &SystemRandom::new(), input, sig)
                    .map_err(|_| TokenError::Crypto("RSA signing"))?;
                sig
            }
            KeyPair::Ecdsa(pair) => {
                // RFC 7518 §3.4: R || S, 32 bytes each, not DER: the `_FIXED` format.
                ecdsa_sig = pair
                    .sign(&SystemRandom::new(), input)
                    .map_err(|_| TokenError::Crypto("ECDSA signing"))?;
                ecdsa_sig.as_ref()
            }
            KeyPair::Ed25519(pair) => {
                ed25519_sig = pair.sign(input);
                ed25519_sig.as_ref()
            }
        };
        jws.push('.');
        b64::encode_into(signature, jws);
        Ok(())
    }
}

/// Length of the unpadded base64url encoding of `n` bytes.
const fn encoded_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

/// `BASE64URL(UTF8(JOSE Header))` for a key of `alg` named `kid`, for tokens of type `typ`.
fn header_b64(alg: Algorithm, typ: &str, kid: &str) -> Result<String, TokenError> {
    let header = serde_json::to_vec(&JoseHeader {
        alg: alg.as_str(),
        typ,
        kid,
    })?;
    Ok(b64::encode(&header))
}

/// The protected header, members in the order Open edX verifiers and our spec show.
#[derive(Serialize)]
struct JoseHeader<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// The public half of `pair` as a JWK without `kid` (which is computed from it).
fn public_jwk(alg: Algorithm, pair: &KeyPair) -> Result<Jwk, TokenError> {
    let mut jwk = Jwk {
        kty: alg.kty().to_owned(),
        kid: String::new(),
        alg: alg.as_str().to_owned(),
        use_: "sig".to_owned(),
        n: None,
        e: None,
        crv: None,
        x: None,
        y: None,
    };
    match pair {
        KeyPair::Rsa(pair) => {
            // RFC 7518 §6.3.1: big-endian, without leading zero octets.
            let public = pair.public_key();
            jwk.n = Some(b64::encode(
                public.modulus().big_endian_without_leading_zero(),
            ));
            jwk.e = Some(b64::encode(
                public.exponent().big_endian_without_leading_zero(),
            ));
        }
        KeyPair::Ecdsa(pair) => {
            // SEC 1 uncompressed point 0x04 || x || y; RFC 7518 §6.2.1 publishes x and y.
            let point = pair.public_key().as_ref();
            let (x, y) = match point {
                [0x04, xy @ ..] if xy.len() == 64 => xy.split_at(32),
                _ => return Err(TokenError::Crypto("unexpected P-256 public key encoding")),
            };
            jwk.crv = Some("P-256".to_owned());
            jwk.x = Some(b64::encode(x));
            jwk.y = Some(b64::encode(y));
        }
        KeyPair::Ed25519(pair) => {
            // RFC 8037 §2: "x" is the 32-byte public key.
            jwk.crv = Some("Ed25519".to_owned());
            jwk.x = Some(b64::encode(pair.public_key().as_ref()));
        }
    }
    Ok(jwk)
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid())
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn pkcs8_round_trip_keeps_kid_and_jwk() {
        for &alg in Algorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let der = key.to_pkcs8().unwrap();
            let again = SigningKey::from_pkcs8(alg, &der).unwrap();
            assert_eq!(again.kid(), key.kid(), "{alg}");
            assert_eq!(again.public_jwk(), key.public_jwk(), "{alg}");
            assert_eq!(again.algorithm(), alg);
        }
    }

    #[test]
    fn kid_is_the_thumbprint_of_the_public_jwk() {
        for alg in [Algorithm::ES256, Algorithm::EdDSA] {
            let key = SigningKey::generate(alg).unwrap();
            let jwk = key.public_jwk();
            assert_eq!(jwk.thumbprint().unwrap(), key.kid());
            assert_eq!(jwk.kid, key.kid());
            assert_eq!((jwk.alg.as_str(), jwk.use_.as_str()), (alg.as_str(), "sig"));
            // 43 characters: base64url of a 32-byte SHA-256 digest.
            assert_eq!(key.kid().len(), 43);
        }
    }

    #[test]
    fn a_key_of_another_type_is_rejected() {
        let ec = SigningKey::generate(Algorithm::ES256).unwrap();
        let der = ec.to_pkcs8().unwrap();
        for alg in [Algorithm::RS512, Algorithm::EdDSA] {
            let err = SigningKey::from_pkcs8(alg, &der).unwrap_err();
            assert!(matches!(err, TokenError::KeyRejected { alg: a, .. } if a == alg));
        }
        assert!(SigningKey::from_pkcs8(Algorithm::ES256, b"not der").is_err());
    }

    #[test]
    fn debug_shows_kid_and_alg_only() {
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let shown = format!("{key:?}");
        assert_eq!(
            shown,
            format!("SigningKey {{ kid: {:?}, alg: EdDSA, .. }}", key.kid())
        );
    }

    #[test]
    fn header_is_alg_typ_kid_in_that_order() {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let jwt = key.sign(&serde_json::json!({"sub": "a"})).unwrap();
        let header = b64::decode(jwt.split('.').next().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(header).unwrap(),
            format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{}"}}"#, key.kid())
        );
    }

    #[test]
    fn a_typed_token_differs_in_typ_only_and_never_verifies_as_a_jwt() {
        use crate::{verify, JwkSet, Validation, VerifyError, VerifyingKeys};
        // Ed25519 signatures are deterministic: the same claims give the same payload part.
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let claims = serde_json::json!({"iss": "i", "aud": "a", "exp": 2_000_000_000_i64});
        let plain = key.sign(&claims).unwrap();
        let typed = key.sign_typed("token-introspection+jwt", &claims).unwrap();
        let parts = |t: &str| t.split('.').map(str::to_owned).collect::<Vec<_>>();
        let (plain, typed) = (parts(&plain), parts(&typed));
        assert_eq!(plain[1], typed[1]);
        let header = b64::decode(&typed[0]).unwrap();
        assert_eq!(
            String::from_utf8(header).unwrap(),
            format!(
                r#"{{"alg":"EdDSA","typ":"token-introspection+jwt","kid":"{}"}}"#,
                key.kid()
            )
        );
        let keys = VerifyingKeys::from_jwk_set(&JwkSet {
            keys: vec![key.public_jwk()],
        })
        .unwrap();
        let v = Validation::new("i", "a");
        let check = |p: &[String]| verify::<serde_json::Value>(&p.join("."), &keys, &v, 0);
        assert_eq!(check(&plain), Ok(claims));
        assert_eq!(check(&typed), Err(VerifyError::Malformed));
    }

    #[test]
    fn claims_must_be_a_json_object() {
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        assert!(matches!(
            key.sign(&"just a string"),
            Err(TokenError::Claims(_))
        ));
        assert!(matches!(key.sign(&[1, 2]), Err(TokenError::Claims(_))));
    }
}
