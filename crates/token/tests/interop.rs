//! Interoperability with an independent JOSE implementation (`jsonwebtoken` over *ring*): it must
//! accept our tokens given only our published JWK components, and we must accept its tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use jsonwebtoken as jwt;
use latchkey_token::{
    verify, AccessClaims, Algorithm, Jwk, JwkSet, SigningKey, Validation, VerifyError,
    VerifyingKeys, JWT_VERSION,
};

const NOW: i64 = 1_700_000_000;
const ISS: &str = "https://lms.example.com/oauth2";
const AUD: &str = "openedx";

fn claims(exp: i64) -> AccessClaims {
    AccessClaims {
        iss: ISS.into(),
        aud: AUD.into(),
        exp,
        iat: NOW,
        jti: "c0ffee".into(),
        sub: "0123456789abcdef0123456789abcdef".into(),
        preferred_username: "honor".into(),
        scopes: vec![
            "read".into(),
            "write".into(),
            "email".into(),
            "profile".into(),
        ],
        filters: vec!["user:me".into(), "content_org:MITx".into()],
        is_restricted: false,
        email_verified: true,
        grant_type: "password".into(),
        version: JWT_VERSION.into(),
        client_id: "login-service-client-id".into(),
        user_id: Some(3),
        email: Some("honor@example.com".into()),
        name: Some(Some("Honor Code".into())),
        given_name: Some("Honor".into()),
        family_name: Some("Code".into()),
        administrator: Some(false),
        superuser: Some(false),
        token_use: None,
    }
}

fn their_alg(alg: Algorithm) -> jwt::Algorithm {
    match alg {
        Algorithm::RS512 => jwt::Algorithm::RS512,
        Algorithm::RS256 => jwt::Algorithm::RS256,
        Algorithm::ES256 => jwt::Algorithm::ES256,
        Algorithm::EdDSA => jwt::Algorithm::EdDSA,
        other => panic!("no jsonwebtoken counterpart for {other}"),
    }
}

/// A decoding key built from the JWK members alone, as any JWKS consumer would.
fn their_decoding_key(jwk: &Jwk) -> jwt::DecodingKey {
    match jwk.kty.as_str() {
        "RSA" => jwt::DecodingKey::from_rsa_components(
            jwk.n.as_deref().unwrap(),
            jwk.e.as_deref().unwrap(),
        )
        .unwrap(),
        "EC" => jwt::DecodingKey::from_ec_components(
            jwk.x.as_deref().unwrap(),
            jwk.y.as_deref().unwrap(),
        )
        .unwrap(),
        "OKP" => jwt::DecodingKey::from_ed_components(jwk.x.as_deref().unwrap()).unwrap(),
        other => panic!("unexpected kty {other}"),
    }
}

/// The same private key, handed to jsonwebtoken through our PKCS#8 export.
fn their_encoding_key(key: &SigningKey) -> jwt::EncodingKey {
    let der = key.to_pkcs8().unwrap();
    match key.algorithm() {
        // jsonwebtoken's `from_rsa_der` wants PKCS#1; its PEM reader unwraps PKCS#8.
        Algorithm::RS512 | Algorithm::RS256 => {
            let body = base64::engine::general_purpose::STANDARD.encode(&*der);
            let lines: Vec<&str> = body
                .as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            let pem = format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                lines.join("\n")
            );
            jwt::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
        }
        Algorithm::ES256 => jwt::EncodingKey::from_ec_der(&der),
        Algorithm::EdDSA => jwt::EncodingKey::from_ed_der(&der),
        other => panic!("no jsonwebtoken counterpart for {other}"),
    }
}

fn their_validation(alg: Algorithm) -> jwt::Validation {
    let mut v = jwt::Validation::new(their_alg(alg));
    v.set_issuer(&[ISS]);
    v.set_audience(&[AUD]);
    v
}

fn our_validation() -> Validation {
    let mut v = Validation::new(ISS, AUD);
    v.required_version_major = Some(1);
    v
}

fn keys() -> Vec<SigningKey> {
    Algorithm::ALL
        .iter()
        .map(|&alg| SigningKey::generate(alg).unwrap())
        .collect()
}

#[test]
fn jsonwebtoken_accepts_our_tokens() {
    for key in keys() {
        let alg = key.algorithm();
        // jsonwebtoken reads the clock: give the token a lifetime that is valid now.
        let exp = jwt::get_current_timestamp() as i64 + 600;
        let token = key.sign(&claims(exp)).unwrap();

        let jwk = key.public_jwk();
        let data =
            jwt::decode::<AccessClaims>(&token, &their_decoding_key(&jwk), &their_validation(alg))
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(data.claims, claims(exp), "{alg}");
        assert_eq!(data.header.alg, their_alg(alg));
        assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
        assert_eq!(data.header.typ.as_deref(), Some("JWT"));

        // And it refuses our token once tampered with, so the check above means something.
        let (signed, sig) = token.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{signed}.{flipped}{}", &sig[1..]);
        assert!(jwt::decode::<AccessClaims>(
            &tampered,
            &their_decoding_key(&jwk),
            &their_validation(alg)
        )
        .is_err());
    }
}

#[test]
fn jsonwebtoken_accepts_our_typed_tokens_without_exp() {
    // An RFC 9701 introspection response: explicitly typed, with `iat` and no `exp`.
    let claims = serde_json::json!({
        "iss": ISS,
        "aud": "resource-server",
        "iat": NOW,
        "token_introspection": {"active": true, "scope": "read"},
    });
    for key in keys() {
        let alg = key.algorithm();
        let token = key.sign_typed("token-introspection+jwt", &claims).unwrap();
        let mut v = jwt::Validation::new(their_alg(alg));
        v.set_issuer(&[ISS]);
        v.set_audience(&["resource-server"]);
        v.validate_exp = false;
        v.required_spec_claims = ["iss", "aud"].iter().map(|c| c.to_string()).collect();
        let data =
            jwt::decode::<serde_json::Value>(&token, &their_decoding_key(&key.public_jwk()), &v)
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(data.claims, claims, "{alg}");
        assert_eq!(data.header.typ.as_deref(), Some("token-introspection+jwt"));
        assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
    }
}

#[test]
fn we_accept_jsonwebtoken_tokens() {
    let keys = keys();
    let set = JwkSet {
        keys: keys.iter().map(SigningKey::public_jwk).collect(),
    };
    let verifying = VerifyingKeys::from_jwk_set(&set).unwrap();
    for key in &keys {
        let alg = key.algorithm();
        let mut header = jwt::Header::new(their_alg(alg));
        header.kid = Some(key.kid().to_owned());
        let token = jwt::encode(&header, &claims(NOW + 600), &their_encoding_key(key))
            .unwrap_or_else(|e| panic!("{alg}: {e}"));

        let got: AccessClaims = verify(&token, &verifying, &our_validation(), NOW)
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(got, claims(NOW + 600), "{alg}");

        // Signed by them without a kid: we insist on one.
        let anonymous = jwt::encode(
            &jwt::Header::new(their_alg(alg)),
            &claims(NOW + 600),
            &their_encoding_key(key),
        )
        .unwrap();
        assert_eq!(
            verify::<AccessClaims>(&anonymous, &verifying, &our_validation(), NOW),
            Err(VerifyError::Malformed)
        );
    }
}

#[test]
fn a_jsonwebtoken_hs256_token_is_refused() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let set = JwkSet {
        keys: vec![key.public_jwk()],
    };
    let verifying = VerifyingKeys::from_jwk_set(&set).unwrap();
    let mut header = jwt::Header::new(jwt::Algorithm::HS256);
    header.kid = Some(key.kid().to_owned());
    let secret = key.public_jwk().x.unwrap();
    let token = jwt::encode(
        &header,
        &claims(NOW + 600),
        &jwt::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        verify::<AccessClaims>(&token, &verifying, &our_validation(), NOW),
        Err(VerifyError::UnsupportedAlgorithm)
    );
}
