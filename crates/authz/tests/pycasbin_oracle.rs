//! Differential test against pycasbin running the real openedx-authz 0.23.0:
//! `tests/oracle/pycasbin_oracle.py` imports the installed package's own staff
//! check and answers each generated request; latchkey-authz must give the same
//! decision (or the same rejection) for every one, except the documented
//! staff-deny difference, which is checked against its own definition.
//!
//! Requires `LATCHKEY_PYTHON`: the path of a Python with the packages of
//! `tests/oracle/requirements.txt` installed. The test fails without it (CI
//! creates the venv in `.ci/run`); locally:
//!
//! ```sh
//! python3 -m venv /var/tmp/latchkey-authz-venv
//! /var/tmp/latchkey-authz-venv/bin/pip install --no-deps -r crates/authz/tests/oracle/requirements.txt
//! LATCHKEY_PYTHON=/var/tmp/latchkey-authz-venv/bin/python cargo test -p latchkey-authz --test pycasbin_oracle
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use latchkey_authz::{
    Engine, Model, Request, RequestError, Settings, OPENEDX_MODEL, OPENEDX_POLICY,
};
use serde_json::{json, Value};
use support::{
    generated_case, is_staff_key, openedx_case, staff_applies, Case, GenOptions, Rng, USERS,
};

fn python() -> String {
    std::env::var("LATCHKEY_PYTHON").unwrap_or_else(|_| {
        panic!(
            "LATCHKEY_PYTHON is not set. This test needs a Python with pycasbin and openedx-authz \
             0.23.0: python3 -m venv /var/tmp/latchkey-authz-venv && /var/tmp/latchkey-authz-venv/bin/pip install --no-deps \
             -r crates/authz/tests/oracle/requirements.txt, then set \
             LATCHKEY_PYTHON=/var/tmp/latchkey-authz-venv/bin/python"
        )
    })
}

fn oracle_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("oracle")
}

/// Run the oracle over `cases` (JSON values), one answer line per case.
fn run_oracle(cases: &[Value]) -> Vec<Value> {
    let input = std::env::temp_dir().join(format!(
        "latchkey-authz-oracle-{}-{}.jsonl",
        std::process::id(),
        cases.len()
    ));
    {
        let mut f = std::fs::File::create(&input).unwrap();
        for case in cases {
            writeln!(f, "{case}").unwrap();
        }
    }
    let out = Command::new(python())
        .arg(oracle_dir().join("pycasbin_oracle.py"))
        .arg(&input)
        .output()
        .expect("run the pycasbin oracle");
    let _ = std::fs::remove_file(&input);
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), cases.len());
    answers
}

fn users_json() -> Value {
    USERS
        .iter()
        .map(|&(u, e, staff, sup)| json!({"username": u, "email": e, "is_staff": staff, "is_superuser": sup}))
        .collect()
}

fn case_json(
    case: &Case,
    requests: &[&(String, String, String)],
    domain_matching: bool,
    with_users: bool,
) -> Value {
    let rows: Vec<Value> = case
        .rows()
        .iter()
        .map(|r| {
            let mut row = vec![r.ptype.clone()];
            row.extend(r.values.iter().cloned());
            json!(row)
        })
        .collect();
    json!({
        "policy": case.csv(),
        "rows": rows,
        "domain_matching": domain_matching,
        "users": if with_users { users_json() } else { json!([]) },
        "requests": requests.iter().map(|(s, a, c)| json!([s, a, c])).collect::<Vec<_>>(),
    })
}

fn engine(case: &Case, domain_matching: bool, parity: bool) -> Engine {
    let model = Model::parse(OPENEDX_MODEL).unwrap();
    let mut settings = Settings::default();
    settings.domain_matching = domain_matching;
    settings.staff_deny_parity = parity;
    Engine::new(&model, case.policy(), settings, |k: &str| is_staff_key(k))
}

/// The engine's answer in the oracle's vocabulary.
fn ours(engine: &Engine, s: &str, a: &str, c: &str) -> Value {
    match Request::new(s, a, c) {
        Ok(req) => json!(engine.check(&req).unwrap().is_allowed()),
        Err(RequestError::ScopeNotNamespaced { .. }) => json!("error:ValueError"),
        // attrs refuses an empty key before splitting it.
        Err(RequestError::SubjectNotNamespaced { subject }) if subject.is_empty() => {
            json!("error:ValueError")
        }
        Err(RequestError::SubjectNotNamespaced { .. }) => json!("error:IndexError"),
    }
}

#[derive(Default, Debug)]
struct Tally {
    policies: usize,
    compared: usize,
    rejected: usize,
    staff_corrected: usize,
}

fn differential(cases: &[(Case, bool)], label: &str) -> Tally {
    let mut inputs = Vec::new();
    for (case, dm) in cases {
        let all: Vec<_> = case.requests.iter().collect();
        inputs.push(case_json(case, &all, *dm, true));
        let staff: Vec<_> = case
            .requests
            .iter()
            .filter(|(s, a, c)| staff_applies(s, a, c))
            .collect();
        inputs.push(case_json(&case.deny_lines_as_grants(), &staff, *dm, false));
    }
    let answers = run_oracle(&inputs);
    let mut tally = Tally::default();
    for (i, (case, dm)) in cases.iter().enumerate() {
        let upstream = answers[2 * i]["decisions"].as_array().unwrap();
        let targeted = answers[2 * i + 1]["decisions"].as_array().unwrap();
        let parity = engine(case, *dm, true);
        let corrected = engine(case, *dm, false);
        let mut staff_at = 0;
        for ((s, a, c), expected) in case.requests.iter().zip(upstream) {
            let context = || format!("({s:?}, {a:?}, {c:?}) domain_matching={dm}\n{}", case.csv());
            assert_eq!(
                &ours(&parity, s, a, c),
                expected,
                "parity mode vs pycasbin {}",
                context()
            );
            let got = ours(&corrected, s, a, c);
            if staff_applies(s, a, c) {
                let deny_applies = targeted[staff_at].as_bool().unwrap();
                staff_at += 1;
                assert_eq!(
                    got,
                    json!(!deny_applies),
                    "corrected staff decision {}",
                    context()
                );
                tally.staff_corrected += 1;
            } else {
                assert_eq!(&got, expected, "default mode vs pycasbin {}", context());
            }
            tally.rejected += usize::from(expected.is_string());
            tally.compared += 1;
        }
        tally.policies += 1;
    }
    println!("pycasbin, {label}: {tally:?}");
    tally
}

#[test]
fn the_vendored_files_are_the_released_package_files() {
    let answer = run_oracle(&[json!("where")]);
    let dir = PathBuf::from(answer[0]["config_dir"].as_str().unwrap());
    for (name, ours) in [
        ("model.conf", OPENEDX_MODEL),
        ("authz.policy", OPENEDX_POLICY),
    ] {
        let installed = std::fs::read(dir.join(name)).unwrap();
        assert!(
            installed == ours.as_bytes(),
            "{name} differs from the installed openedx-authz"
        );
    }
}

#[test]
fn generated_policies_match_pycasbin() {
    let mut rng = Rng::new(0x00c0_ffee);
    let cases: Vec<(Case, bool)> = (0..400)
        .map(|i| {
            let opts = GenOptions {
                role_chains: true,
                invalid_requests: true,
                requests: 60,
            };
            (generated_case(&mut rng, opts), i % 2 == 1)
        })
        .collect();
    let tally = differential(&cases, "generated policies");
    assert!(tally.compared >= 24_000 && tally.rejected > 0, "{tally:?}");
}

#[test]
fn openedx_policy_matches_pycasbin() {
    let mut rng = Rng::new(0x0023_0000);
    let cases: Vec<(Case, bool)> = (0..160)
        .map(|i| (openedx_case(&mut rng, 80), i % 2 == 1))
        .collect();
    let tally = differential(&cases, "openedx-authz policy");
    assert!(
        tally.compared >= 12_000 && tally.staff_corrected > 0,
        "{tally:?}"
    );
}
