//! Introspection answered as a signed JWT (RFC 9701) when the resource server asks for one with
//! `Accept`, and as JSON otherwise; errors stay JSON. On SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::signature::{
    ParsedPublicKey, RsaPublicKeyComponents, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA512,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use latchkey_core::store::Store;
use latchkey_server::clock::now;
use latchkey_testkit::{on_both_backends, TestServer};
use latchkey_token::Algorithm;
use serde_json::{json, Value};

const JWT_TYPE: &str = "application/token-introspection+jwt";

/// A public password client "mobile", a gateway granted `introspect` and a service without it,
/// all owned by alice (password "alice-pw").
struct Fixture {
    mobile: String,
    gateway: (String, String),
    service: (String, String),
}

async fn fixture(server: &TestServer<impl Store>) -> Fixture {
    server.user("alice", "alice-pw").await;
    Fixture {
        mobile: server.public("mobile", "alice", "password").await,
        gateway: server
            .confidential_with("gateway", "alice", "client-credentials", &["introspect"])
            .await,
        service: server
            .confidential("service", "alice", "client-credentials")
            .await,
    }
}

/// An access token for alice, a JWT or an opaque one.
async fn access_token(server: &TestServer<impl Store>, f: &Fixture, jwt: bool) -> String {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "alice-pw"),
        ("client_id", f.mobile.as_str()),
    ];
    if jwt {
        form.push(("token_type", "jwt"));
    }
    let r = reqwest::Client::new()
        .post(server.url("/oauth2/access_token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// What `POST /oauth2/introspect` answers `(id, secret)`, sending `accept` if given.
struct Answer {
    status: u16,
    content_type: String,
    cache_control: String,
    body: String,
}

async fn ask(
    server: &TestServer<impl Store>,
    (id, secret): &(String, String),
    token: &str,
    accept: Option<&str>,
) -> Answer {
    let mut request = reqwest::Client::new()
        .post(server.url("/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)]);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let r = request.send().await.unwrap();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    Answer {
        status: r.status().as_u16(),
        content_type: header("content-type"),
        cache_control: header("cache-control"),
        body: r.text().await.unwrap(),
    }
}

fn b64_json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The JOSE header and claims of `jwt`, after checking its signature against the key the
/// published JWK Set names by its `kid` (by hand: Latchkey's own verifier refuses this `typ`).
async fn verified(server: &TestServer<impl Store>, jwt: &str) -> (Value, Value) {
    let (signing_input, signature) = jwt.rsplit_once('.').unwrap();
    let (header, payload) = signing_input.split_once('.').unwrap();
    let header = b64_json(header);
    let jwks: Value = reqwest::get(server.url("/oauth2/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap_or_else(|| panic!("kid {} is not published", header["kid"]));
    assert_eq!(jwk["alg"], header["alg"]);
    let member = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let key = match header["alg"].as_str().unwrap() {
        "RS512" => RsaPublicKeyComponents {
            n: member("n"),
            e: member("e"),
        }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA512)
        .unwrap(),
        "ES256" => {
            let point = [vec![4], member("x"), member("y")].concat();
            ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).unwrap()
        }
        other => panic!("this test does not verify {other}"),
    };
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    key.verify_sig(signing_input.as_bytes(), &signature)
        .expect("the signature verifies against the published key");
    (header, b64_json(payload))
}

/// For an opaque token, a JWT, a revoked token and a string that is no token at all, the JWT
/// answer carries exactly the JSON answer, signed with the key access tokens are signed with and
/// addressed to the client that asked; without the JWT type in `Accept`, nothing changed.
async fn the_jwt_answer_is_the_json_answer_signed<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let revoked = access_token(&server, &f, false).await;
    let r = reqwest::Client::new()
        .post(server.url("/oauth2/revoke_token"))
        .form(&[
            ("token", revoked.as_str()),
            ("client_id", f.mobile.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let tokens = [
        (access_token(&server, &f, false).await, true),
        (access_token(&server, &f, true).await, true),
        (revoked, false),
        ("not-a-token".to_owned(), false),
    ];
    let signer = server.tokens.keys().signer();
    for (token, active) in &tokens {
        let json = ask(&server, &f.gateway, token, None).await;
        assert_eq!(
            (json.status, json.content_type.as_str()),
            (200, "application/json")
        );
        let json: Value = serde_json::from_str(&json.body).unwrap();
        assert_eq!(json["active"], *active, "{json}");
        if !active {
            assert_eq!(json, json!({"active": false}));
        }
        let asked_json = ask(&server, &f.gateway, token, Some("application/json")).await;
        assert_eq!(asked_json.content_type, "application/json");
        assert_eq!(
            serde_json::from_str::<Value>(&asked_json.body).unwrap(),
            json
        );

        let before = now();
        let answer = ask(&server, &f.gateway, token, Some(JWT_TYPE)).await;
        let after = now();
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.content_type, JWT_TYPE);
        assert_eq!(answer.cache_control, "no-store");
        let (header, claims) = verified(&server, &answer.body).await;
        assert_eq!(
            header,
            json!({"alg": "RS512", "typ": "token-introspection+jwt", "kid": signer.kid()})
        );
        let iat = claims["iat"].as_i64().unwrap();
        assert!((before..=after).contains(&iat), "iat {iat}");
        assert_eq!(
            claims,
            json!({
                "iss": server.issuer(),
                "aud": f.gateway.0,
                "iat": iat,
                "token_introspection": json,
            })
        );
    }

    // It is no access token: a verifier of Latchkey's JWTs refuses it for its `typ`, whatever
    // audience it expects.
    let answer = ask(&server, &f.gateway, &tokens[0].0, Some(JWT_TYPE)).await;
    let keys = server.published_keys().await;
    let as_access = latchkey_token::Validation::new(server.issuer(), f.gateway.0.as_str());
    assert_eq!(
        latchkey_token::verify::<Value>(&answer.body, &keys, &as_access, now()),
        Err(latchkey_token::VerifyError::Malformed)
    );
}

/// Answers are signed with whichever key signs access tokens now, and discovery lists every
/// algorithm a key may have.
async fn answers_follow_the_current_signing_key<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let meta: Value = reqwest::get(server.url("/.well-known/oauth-authorization-server"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["introspection_signing_alg_values_supported"],
        json!(["RS512", "RS256", "ES256", "EdDSA"])
    );
    let token = access_token(&server, &f, true).await;
    server.rotate_keys(Algorithm::ES256).await;
    let answer = ask(&server, &f.gateway, &token, Some(JWT_TYPE)).await;
    let (header, claims) = verified(&server, &answer.body).await;
    let signer = server.tokens.keys().signer();
    assert_eq!(signer.algorithm(), Algorithm::ES256);
    assert_eq!(
        (&header["alg"], &header["kid"]),
        (&json!("ES256"), &json!(signer.kid()))
    );
    // The token was signed by the key that retired: still active, and said so under the new key.
    assert_eq!(claims["token_introspection"]["active"], true);
}

/// Asking for a JWT changes nothing about errors: they are RFC 6749 JSON, the refusal of a client
/// without the `introspect` permission included.
async fn errors_stay_json<S: Store>(server: TestServer<S>) {
    let f = fixture(&server).await;
    let token = access_token(&server, &f, false).await;
    let refused = ask(&server, &f.service, &token, Some(JWT_TYPE)).await;
    assert_eq!(
        (refused.status, refused.content_type.as_str()),
        (403, "application/json")
    );
    let body: Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(body["error"], "unauthorized_client");

    let wrong_secret = (f.gateway.0.clone(), "not-the-secret".to_owned());
    let refused = ask(&server, &wrong_secret, &token, Some(JWT_TYPE)).await;
    assert_eq!(
        (refused.status, refused.content_type.as_str()),
        (401, "application/json")
    );
    let body: Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(body["error"], "invalid_client");

    let missing = ask(&server, &f.gateway, "", Some(JWT_TYPE)).await;
    assert_eq!(
        (missing.status, missing.content_type.as_str()),
        (400, "application/json")
    );
    let body: Value = serde_json::from_str(&missing.body).unwrap();
    assert_eq!(body["error"], "invalid_request");
}

on_both_backends! {
    the_jwt_answer_is_the_json_answer_signed,
    answers_follow_the_current_signing_key,
    errors_stay_json,
}
