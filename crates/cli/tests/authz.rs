//! `latchkey authz ...` as operators and scripts use it: exit codes, messages, effects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{fails_with, latchkey, ok};

const VIEW: &str = "act^content_libraries.view_library";
const PHYSICS: &str = "lib^lib:MITx:physics";

#[test]
fn assign_check_list_and_unassign() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let check = |d| {
        ok(&latchkey(
            d,
            &["authz", "check", "user^alice", VIEW, PHYSICS],
        ))
    };
    assert_eq!(check(d), "denied\n", "exit 0 when denied too");

    let out = ok(&latchkey(
        d,
        &[
            "authz",
            "assign",
            "user^alice",
            "role^library_user",
            PHYSICS,
        ],
    ));
    assert!(
        out.starts_with("assigned role^library_user to user^alice"),
        "{out}"
    );
    let again = ok(&latchkey(
        d,
        &[
            "authz",
            "assign",
            "user^alice",
            "role^library_user",
            PHYSICS,
        ],
    ));
    assert!(again.contains("nothing changed"), "{again}");
    assert_eq!(check(d), "allowed\n", "the default policy's roles work");
    let explained = ok(&latchkey(
        d,
        &["authz", "check", "user^alice", VIEW, PHYSICS, "--explain"],
    ));
    assert_eq!(explained, "allowed: a role the subject holds allows it\n");

    let listed: serde_json::Value = serde_json::from_str(&ok(&latchkey(
        d,
        &["authz", "list", "--subject", "user^alice", "--json"],
    )))
    .unwrap();
    assert_eq!(
        listed,
        serde_json::json!([{"subject": "user^alice", "role": "role^library_user", "scope": PHYSICS}])
    );
    let scopes = ok(&latchkey(d, &["authz", "scopes", "user^alice", VIEW]));
    assert_eq!(scopes, format!("{PHYSICS}\n"));

    ok(&latchkey(
        d,
        &[
            "authz",
            "unassign",
            "user^alice",
            "role^library_user",
            PHYSICS,
        ],
    ));
    assert_eq!(check(d), "denied\n");
    fails_with(
        &latchkey(
            d,
            &[
                "authz",
                "unassign",
                "user^alice",
                "role^library_user",
                PHYSICS,
            ],
        ),
        "no assignment",
    );
}

#[test]
fn bad_input_exits_1_and_bad_usage_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails_with(
        &latchkey(d, &["authz", "check", "alice", VIEW, PHYSICS]),
        "subject is not a namespaced key",
    );
    fails_with(
        &latchkey(d, &["authz", "check", "user^alice", VIEW, "*"]),
        "scope is not a namespaced key",
    );
    fails_with(
        &latchkey(
            d,
            &["authz", "assign", "user^alice", "library_user", PHYSICS],
        ),
        "role must be role^NAME",
    );
    fails_with(
        &latchkey(d, &["authz", "import", "no-such-file.csv"]),
        "cannot read no-such-file.csv",
    );
    let usage = latchkey(d, &["authz", "check", "user^alice"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn imports_policy_files_and_casbin_rule_exports() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("extra.policy"),
        "# more roles\n\
         p, role^library_auditor, act^content_libraries.view_library, lib^*, allow\n\
         g, user^bob, role^library_auditor, lib^lib:MITx:chemistry\n",
    )
    .unwrap();
    let out = ok(&latchkey(d, &["authz", "import", "extra.policy"]));
    assert!(
        out.starts_with("added 2 rules from extra.policy (casbin policy file); 0 were already"),
        "{out}"
    );
    assert_eq!(
        ok(&latchkey(
            d,
            &["authz", "check", "user^bob", VIEW, "lib^lib:MITx:chemistry"]
        )),
        "allowed\n"
    );

    std::fs::write(
        d.join("casbin_rule.csv"),
        "id,ptype,v0,v1,v2,v3,v4,v5\n\
         7,g,user^carol,role^library_admin,lib^lib:MITx:physics,,,\n\
         8,g,user^bob,role^library_auditor,lib^lib:MITx:chemistry,,,\n\
         9,p,role^library_auditor,act^content_libraries.view_library,lib^*,allow,,\n",
    )
    .unwrap();
    let out = ok(&latchkey(d, &["authz", "import", "casbin_rule.csv"]));
    assert!(
        out.starts_with(
            "added 1 rules from casbin_rule.csv (casbin_rule export); 2 were already present"
        ),
        "{out}"
    );
    assert_eq!(
        ok(&latchkey(
            d,
            &[
                "authz",
                "check",
                "user^carol",
                "act^content_libraries.delete_library",
                PHYSICS
            ]
        )),
        "allowed\n"
    );

    std::fs::write(
        d.join("bad.policy"),
        "g, user^dan, role^x, lib^y\np, role^x, act^y\n",
    )
    .unwrap();
    fails_with(&latchkey(d, &["authz", "import", "bad.policy"]), "line 2");
    assert_eq!(
        ok(&latchkey(d, &["authz", "list", "--subject", "user^dan"]))
            .lines()
            .count(),
        1,
        "a bad file imports nothing (header line only)"
    );
}
