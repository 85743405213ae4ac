//! Latchkey's verifier against password hashes made and checked by Django itself, recorded in
//! `fixtures/django_password_hashes.json` by `tests/openedx/make_hash_vectors.py` (see there for
//! how to regenerate it): every kind an Open edX database holds, Unicode passwords, several costs.
//! Each right password matches and asks for an upgrade to argon2id; each near miss Django refused
//! is refused; unusable markers match nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::password::{
    can_match, HashMemory, PasswordCheck, PasswordHasher, PasswordParams, StoredHash,
};
use latchkey_core::random::OsRandom;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/django_password_hashes.json");

fn vectors() -> Vec<Value> {
    let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
    fixture["vectors"].as_array().unwrap().clone()
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap()
}

fn hasher() -> PasswordHasher {
    let params = PasswordParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };
    PasswordHasher::new(params, &OsRandom).unwrap()
}

#[test]
fn every_django_vector_verifies_and_every_near_miss_is_refused() {
    let hasher = hasher();
    let mut memory = HashMemory::default();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for v in vectors() {
        let (kind, encoded) = (text(&v, "hasher"), text(&v, "encoded"));
        let (password, wrong) = (text(&v, "password"), text(&v, "wrong"));
        let usable = v["usable"].as_bool().unwrap();
        let right = hasher.verify(password, Some(encoded), &mut memory);
        let expected = if usable {
            PasswordCheck::Match { upgrade: true }
        } else {
            PasswordCheck::Mismatch
        };
        assert_eq!(right, expected, "{kind} {encoded} with {password:?}");
        assert_eq!(
            hasher.verify(wrong, Some(encoded), &mut memory),
            PasswordCheck::Mismatch,
            "{kind} {encoded} with the near miss {wrong:?}"
        );
        assert_eq!(can_match(encoded), usable, "{encoded}");
        *kinds.entry(kind.to_owned()).or_default() += 1;
    }
    // The fixture covers every kind; a regeneration that dropped one would fail here.
    for kind in [
        "pbkdf2_sha256",
        "pbkdf2_sha1",
        "argon2",
        "bcrypt_sha256",
        "unusable",
    ] {
        assert!(
            kinds.get(kind).is_some_and(|&n| n >= 3),
            "{kind}: {kinds:?}"
        );
    }
}

/// An upgraded hash is Latchkey's own and verifies the same password without asking again.
#[test]
fn the_upgrade_of_a_django_hash_verifies_the_same_password() {
    let hasher = hasher();
    let mut memory = HashMemory::default();
    let mut seen = std::collections::BTreeSet::new();
    for v in vectors().iter().filter(|v| v["usable"].as_bool().unwrap()) {
        if !seen.insert(text(v, "hasher").to_owned()) {
            continue;
        }
        let password = text(v, "password");
        let upgraded = hasher.hash(password, &OsRandom).unwrap();
        assert!(matches!(
            StoredHash::parse(&upgraded),
            Ok(StoredHash::Argon2 { django: false, .. })
        ));
        assert_eq!(
            hasher.verify(password, Some(&upgraded), &mut memory),
            PasswordCheck::Match { upgrade: false }
        );
    }
}

/// A row whose stored hash differs by one character, as a corrupt export would hold, never
/// matches: the comparison covers every byte.
#[test]
fn a_django_vector_altered_anywhere_no_longer_matches() {
    let hasher = hasher();
    let mut memory = HashMemory::default();
    let cheap = vectors()
        .into_iter()
        .filter(|v| v["usable"].as_bool().unwrap())
        .filter(|v| {
            let p = &v["params"];
            p["iterations"].as_u64().is_some_and(|n| n <= 1000)
                || p["rounds"].as_u64() == Some(4)
                || p["m"].as_u64() == Some(512)
        })
        .take(40);
    for v in cheap {
        let (encoded, password) = (text(&v, "encoded"), text(&v, "password"));
        let at = encoded.len() - 3;
        let flipped: String = encoded
            .char_indices()
            .map(|(i, c)| match (i == at, c) {
                (true, 'A') => 'B',
                (true, _) => 'A',
                (false, c) => c,
            })
            .collect();
        assert_eq!(
            hasher.verify(password, Some(&flipped), &mut memory),
            PasswordCheck::Mismatch,
            "{flipped}"
        );
    }
}
