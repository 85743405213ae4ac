//! `latchkey keys import --jwk` and `keys list --jwks`: taking on an Open edX LMS's signing key and
//! printing the set verifiers pin. The JWKs are pyca/cryptography's (see the token crate's
//! fixture and `tests/openedx/make_lms_jwks.py`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

mod common;
use common::{fails_with, json, latchkey, latchkey_with_stdin, ok};

const FIXTURE: &str = include_str!("../../token/tests/fixtures/lms_jwks.json");

fn fixture(name: &str) -> Value {
    let all: Value = serde_json::from_str(FIXTURE).unwrap();
    all[name].clone()
}

fn write(dir: &std::path::Path, name: &str, jwk: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, jwk.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn state_of(dir: &std::path::Path, kid: &str) -> Vec<String> {
    let keys = json(&latchkey(dir, &["keys", "list", "--json"]));
    keys.as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kid"] == kid)
        .map(|k| k["state"].as_str().unwrap().to_owned())
        .collect()
}

fn kids_in_state(dir: &std::path::Path, state: &str) -> Vec<String> {
    let keys = json(&latchkey(dir, &["keys", "list", "--json"]));
    keys.as_array()
        .unwrap()
        .iter()
        .filter(|k| k["state"] == state)
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_imported_lms_key_is_published_then_signs_after_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lms = fixture("lms");
    ok(&latchkey(d, &["keys", "list"]));
    let spare = kids_in_state(d, "next");
    assert_eq!(spare.len(), 1);

    let file = write(d, "lms.jwk", &lms);
    let out = ok(&latchkey(d, &["keys", "import", "--jwk", &file]));
    assert!(
        out.contains("imported L9IHZW6G (RS512) as the next key"),
        "{out}"
    );
    assert!(out.contains(&format!("revoked {}", spare[0])), "{out}");
    assert_eq!(state_of(d, "L9IHZW6G"), ["next"]);
    assert_eq!(state_of(d, &spare[0]), ["revoked"]);

    // The public set verifiers pin carries the LMS key under its kid, with its own modulus.
    let jwks = json(&latchkey(d, &["keys", "list", "--jwks"]));
    let published = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == "L9IHZW6G")
        .cloned()
        .unwrap();
    assert_eq!(published["n"], lms["n"]);
    assert_eq!(published["e"], lms["e"]);
    assert_eq!(published["alg"], "RS512");
    assert!(published.get("d").is_none(), "no private member is printed");

    let out = ok(&latchkey(d, &["keys", "rotate"]));
    assert!(out.contains("now signing with L9IHZW6G"), "{out}");
    assert_eq!(kids_in_state(d, "current"), ["L9IHZW6G"]);
}

#[test]
fn current_from_stdin_signs_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(&latchkey(d, &["keys", "list"]));
    let before = kids_in_state(d, "current");
    let out = ok(&latchkey_with_stdin(
        d,
        &["keys", "import", "--jwk", "-", "--current"],
        &fixture("full").to_string(),
    ));
    assert!(
        out.contains("imported lms-2026 (RS512) and signing with it now"),
        "{out}"
    );
    assert_eq!(kids_in_state(d, "current"), ["lms-2026"]);
    assert_eq!(state_of(d, &before[0]), ["retired"]);
}

#[test]
fn bad_jwks_are_refused_with_a_message_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lms = fixture("lms");
    let public = json!({"kty": "RSA", "kid": "pub", "n": lms["n"], "e": lms["e"]});
    let mut no_q = lms.clone();
    no_q.as_object_mut().unwrap().remove("q");
    let mut no_kid = lms.clone();
    no_kid.as_object_mut().unwrap().remove("kid");
    let cases = [
        (public, "this is a public JWK"),
        (fixture("small"), "the key has 1024 bits"),
        (no_q, "the JWK has no `q`"),
        (no_kid, "the JWK has no `kid`"),
        (json!({"keys": [lms.clone()]}), "this is a JWK Set"),
    ];
    for (i, (jwk, message)) in cases.iter().enumerate() {
        let file = write(d, &format!("bad{i}.jwk"), jwk);
        fails_with(&latchkey(d, &["keys", "import", "--jwk", &file]), message);
    }
    fails_with(
        &latchkey_with_stdin(d, &["keys", "import", "--jwk", "-"], "{not json"),
        "not a JSON object",
    );
    fails_with(
        &latchkey(d, &["keys", "import", "--jwk", "no-such-file.jwk"]),
        "cannot read the JWK file no-such-file.jwk",
    );
    // Nothing of the refused keys reached the ring.
    let listed = ok(&latchkey(d, &["keys", "list"]));
    assert!(
        !listed.contains("L9IHZW6G") && !listed.contains("pub "),
        "{listed}"
    );

    let file = write(d, "lms.jwk", &lms);
    ok(&latchkey(d, &["keys", "import", "--jwk", &file]));
    fails_with(
        &latchkey(d, &["keys", "import", "--jwk", &file, "--current"]),
        "a key with kid \"L9IHZW6G\" is already in the ring (next)",
    );
}
