//! Taking on an LMS's signing key: RSA private JWKs made by pyca/cryptography
//! (`fixtures/lms_jwks.json`, from `tests/openedx/make_lms_jwks.py`) parse into signing keys that
//! keep their `kid`, and what they sign verifies with the JWK's own public part under an
//! independent verifier (jsonwebtoken); every malformed variant is refused with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_token::{Algorithm, PrivateJwkError, SigningKey};
use serde_json::{json, Value};

const FIXTURE: &str = include_str!("fixtures/lms_jwks.json");

fn fixture(name: &str) -> Value {
    let all: Value = serde_json::from_str(FIXTURE).unwrap();
    all[name].clone()
}

fn import(jwk: &Value) -> Result<SigningKey, PrivateJwkError> {
    SigningKey::from_private_jwk(&jwk.to_string(), Algorithm::RS512)
}

fn verifies_with_the_original_public_part(key: &SigningKey, jwk: &Value, alg: Algorithm) {
    use jsonwebtoken::{decode, decode_header, Algorithm as JAlg, DecodingKey, Validation};
    let token = key
        .sign(&json!({"sub": "abc", "exp": 4_000_000_000u64}))
        .unwrap();
    let header = decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), jwk["kid"].as_str());
    let jalg = match alg {
        Algorithm::RS256 => JAlg::RS256,
        _ => JAlg::RS512,
    };
    assert_eq!(header.alg, jalg);
    let public =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let claims = decode::<Value>(&token, &public, &Validation::new(jalg)).unwrap();
    assert_eq!(claims.claims["sub"], "abc");
}

#[test]
fn an_lms_key_without_crt_members_signs_under_its_own_kid() {
    let jwk = fixture("lms");
    assert!(jwk.get("dp").is_none(), "the fixture is the LMS's shape");
    let key = import(&jwk).unwrap();
    assert_eq!(key.kid(), "L9IHZW6G");
    assert_eq!(key.algorithm(), Algorithm::RS512);
    let public = key.public_jwk();
    assert_eq!(public.n.as_deref(), jwk["n"].as_str());
    assert_eq!(public.e.as_deref(), jwk["e"].as_str());
    assert_eq!(public.kid, "L9IHZW6G");
    verifies_with_the_original_public_part(&key, &jwk, Algorithm::RS512);
}

#[test]
fn full_keys_sign_and_survive_pkcs8_storage() {
    for name in ["full", "large"] {
        let jwk = fixture(name);
        let key = import(&jwk).unwrap();
        verifies_with_the_original_public_part(&key, &jwk, Algorithm::RS512);
        // How the key ring stores and reloads it: PKCS#8, then the stored kid again.
        let der = key.to_pkcs8().unwrap();
        let again = SigningKey::from_pkcs8(Algorithm::RS512, &der)
            .unwrap()
            .with_kid(jwk["kid"].as_str().unwrap().to_owned())
            .unwrap();
        assert_eq!(again.public_jwk(), key.public_jwk());
        verifies_with_the_original_public_part(&again, &jwk, Algorithm::RS512);
    }
}

#[test]
fn the_jwks_alg_wins_over_the_default() {
    let mut jwk = fixture("lms");
    jwk["alg"] = json!("RS256");
    let key = import(&jwk).unwrap();
    assert_eq!(key.algorithm(), Algorithm::RS256);
    verifies_with_the_original_public_part(&key, &jwk, Algorithm::RS256);
}

fn without(name: &str, members: &[&str]) -> Value {
    let mut jwk = fixture(name);
    for m in members {
        jwk.as_object_mut().unwrap().remove(*m);
    }
    jwk
}

#[test]
fn bad_jwks_are_refused_with_the_reason() {
    let other = fixture("full");
    let mut swapped_p = fixture("lms");
    swapped_p["p"] = other["p"].clone();
    let mut wrong_qi = fixture("full");
    wrong_qi["qi"] = other["dp"].clone();
    let mut not_base64 = fixture("lms");
    not_base64["q"] = json!("not base64!");
    let mut padded = fixture("lms");
    padded["e"] = json!("AQAB=");
    let mut ec = fixture("lms");
    ec["kty"] = json!("EC");
    let mut empty_kid = fixture("lms");
    empty_kid["kid"] = json!("  ");
    let mut hs = fixture("lms");
    hs["alg"] = json!("HS256");
    let public = json!({"kty": "RSA", "kid": "pub", "n": other["n"], "e": other["e"]});
    let cases: Vec<(Value, PrivateJwkError)> = vec![
        (public, PrivateJwkError::PublicOnly),
        (without("lms", &["n"]), PrivateJwkError::Missing("n")),
        (without("lms", &["e"]), PrivateJwkError::Missing("e")),
        (without("lms", &["p"]), PrivateJwkError::Missing("p")),
        (without("lms", &["q"]), PrivateJwkError::Missing("q")),
        (without("full", &["dp"]), PrivateJwkError::Missing("dp")),
        (without("full", &["qi"]), PrivateJwkError::Missing("qi")),
        (without("lms", &["kty"]), PrivateJwkError::Missing("kty")),
        (without("lms", &["kid"]), PrivateJwkError::NoKid),
        (empty_kid, PrivateJwkError::NoKid),
        (ec, PrivateJwkError::NotRsa("EC".into())),
        (hs, PrivateJwkError::UnsupportedAlg("HS256".into())),
        (not_base64, PrivateJwkError::BadMember("q")),
        (padded, PrivateJwkError::BadMember("e")),
        (swapped_p, PrivateJwkError::Inconsistent("n is not p·q")),
        (
            wrong_qi,
            PrivateJwkError::Inconsistent("dp, dq or qi does not follow from d, p and q"),
        ),
        (fixture("small"), PrivateJwkError::Size { bits: 1024 }),
        (json!({"keys": [fixture("lms")]}), PrivateJwkError::KeySet),
    ];
    for (jwk, expected) in cases {
        assert_eq!(import(&jwk).unwrap_err(), expected, "{jwk}");
    }
    assert!(matches!(
        SigningKey::from_private_jwk("{not json", Algorithm::RS512),
        Err(PrivateJwkError::NotJson(_))
    ));
}
