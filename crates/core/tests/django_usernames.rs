//! Latchkey's username rule against Django's own verdicts, recorded in
//! `fixtures/django_usernames.tsv` by `oracle/django_usernames.py` (see there for how to rerun it):
//! every code point as a one-character username, NFKC of every code point, and about 1,400
//! strings as given and as created.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::user::{is_django_username, Username};
use unicode_normalization::UnicodeNormalization;

const FIXTURE: &str = include_str!("fixtures/django_usernames.tsv");

struct Oracle {
    unicode: String,
    accept: Vec<bool>,
    unassigned: Vec<bool>,
    nfkc: Vec<(u32, String)>,
    cases: Vec<(String, bool, Option<String>)>,
}

fn oracle() -> Oracle {
    let mut o = Oracle {
        unicode: String::new(),
        accept: vec![false; 0x110000],
        unassigned: vec![false; 0x110000],
        nfkc: Vec::new(),
        cases: Vec::new(),
    };
    let hex = |s: &str| u32::from_str_radix(s, 16).unwrap();
    for line in FIXTURE.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields[0] {
            "unicode" => o.unicode = fields[1].to_owned(),
            "python" | "django" => {}
            "accept" | "unassigned" => {
                let set = if fields[0] == "accept" {
                    &mut o.accept
                } else {
                    &mut o.unassigned
                };
                for cp in hex(fields[1])..=hex(fields[2]) {
                    set[cp as usize] = true;
                }
            }
            "nfkc" => {
                let to = fields[2]
                    .split(' ')
                    .map(|h| char::from_u32(hex(h)).unwrap());
                o.nfkc.push((hex(fields[1]), to.collect()));
            }
            "case" => {
                let (s, valid, created): (String, bool, Option<String>) =
                    serde_json::from_str(fields[1]).unwrap();
                o.cases.push((s, valid, created));
            }
            other => panic!("unknown fixture line kind {other:?}"),
        }
    }
    assert!(
        !o.unicode.is_empty() && o.cases.len() > 1000,
        "fixture is incomplete"
    );
    o
}

fn all_chars() -> impl Iterator<Item = char> {
    (0..0x110000u32).filter_map(char::from_u32)
}

#[test]
fn every_code_point_is_a_username_exactly_when_django_says_so() {
    let o = oracle();
    let mut disagree = Vec::new();
    let mut newer = 0;
    for c in all_chars() {
        let ours = is_django_username(c.encode_utf8(&mut [0; 4]));
        if ours != o.accept[c as usize] {
            if o.unassigned[c as usize] {
                // Assigned after the oracle's Unicode: a newer Python's Django takes it too.
                assert!(ours, "{c:?}: only letters and numbers can be new");
                newer += 1;
            } else {
                disagree.push(format!("U+{:04X} ours {ours}", c as u32));
            }
        }
    }
    assert!(
        disagree.is_empty(),
        "{} code points disagree with Django on Python's Unicode {}: {:?}",
        disagree.len(),
        o.unicode,
        &disagree[..disagree.len().min(20)]
    );
    eprintln!(
        "{newer} letters and numbers are newer than Unicode {}",
        o.unicode
    );
}

#[test]
fn nfkc_of_every_assigned_code_point_is_pythons() {
    let o = oracle();
    let changed: std::collections::HashMap<u32, String> = o.nfkc.into_iter().collect();
    let mut disagree = Vec::new();
    for c in all_chars().filter(|&c| !o.unassigned[c as usize]) {
        let ours: String = std::iter::once(c).nfkc().collect();
        let theirs = changed.get(&(c as u32)).cloned().unwrap_or(c.to_string());
        if ours != theirs {
            disagree.push(format!("U+{:04X}: {ours:?} vs {theirs:?}", c as u32));
        }
    }
    assert!(disagree.is_empty(), "{disagree:?}");
}

#[test]
fn strings_are_judged_and_created_as_django_does() {
    for (s, valid, created) in oracle().cases {
        assert_eq!(is_django_username(&s), valid, "as given: {s:?}");
        let ours = Username::try_from(s.as_str()).ok();
        assert_eq!(
            ours.as_ref().map(Username::as_str),
            created.as_deref(),
            "created: {s:?}"
        );
    }
}
