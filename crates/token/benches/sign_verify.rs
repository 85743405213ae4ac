//! Signing (the token endpoint's hot path) and verification (every resource-server request), per
//! algorithm, with a full Open edX access-token payload.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use latchkey_token::{
    verify, AccessClaims, Algorithm, JwkSet, SigningKey, Validation, VerifyingKeys, JWT_VERSION,
};

const NOW: i64 = 1_700_000_000;

fn claims() -> AccessClaims {
    AccessClaims {
        iss: "https://lms.example.com/oauth2".into(),
        aud: "openedx".into(),
        exp: NOW + 3600,
        iat: NOW,
        jti: "0b7c2f9e4d3a4c1e8f6a5b4c3d2e1f00".into(),
        sub: "0123456789abcdef0123456789abcdef".into(),
        preferred_username: "honor".into(),
        scopes: vec![
            "read".into(),
            "write".into(),
            "email".into(),
            "profile".into(),
        ],
        filters: vec!["user:me".into()],
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

fn bench(c: &mut Criterion) {
    let claims = claims();
    let mut validation = Validation::new("https://lms.example.com/oauth2", "openedx");
    validation.required_version_major = Some(1);
    for &alg in Algorithm::ALL {
        let key = SigningKey::generate(alg).unwrap();
        let keys = VerifyingKeys::from_jwk_set(&JwkSet {
            keys: vec![key.public_jwk()],
        })
        .unwrap();
        let token = key.sign(&claims).unwrap();

        c.bench_function(&format!("sign/{alg}"), |b| {
            b.iter(|| key.sign(black_box(&claims)).unwrap())
        });
        c.bench_function(&format!("verify/{alg}"), |b| {
            b.iter(|| verify::<AccessClaims>(black_box(&token), &keys, &validation, NOW).unwrap())
        });
    }
}

/// The same RS512 signature through `jsonwebtoken`, which parses the RSA key on every call: the
/// cost this crate exists to avoid.
fn bench_jsonwebtoken_baseline(c: &mut Criterion) {
    use base64::Engine as _;

    let key = SigningKey::generate(Algorithm::RS512).unwrap();
    let der = key.to_pkcs8().unwrap();
    let body = base64::engine::general_purpose::STANDARD.encode(&*der);
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
    let encoding_key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS512);
    header.kid = Some(key.kid().to_owned());
    let claims = claims();
    c.bench_function("sign/RS512 (jsonwebtoken baseline)", |b| {
        b.iter(|| jsonwebtoken::encode(&header, black_box(&claims), &encoding_key).unwrap())
    });
}

criterion_group!(benches, bench, bench_jsonwebtoken_baseline);
criterion_main!(benches);
