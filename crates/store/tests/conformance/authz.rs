//! Conformance of `AuthzStore`: rules, the version counter and the audit trail.

use latchkey_core::store::*;

use super::{a_user, user_row};

pub fn rule(ptype: &str, values: &[&str]) -> RuleRow {
    let mut row = RuleRow {
        ptype: ptype.into(),
        ..RuleRow::default()
    };
    for (slot, value) in row.values.iter_mut().zip(values) {
        *slot = (*value).into();
    }
    row
}

fn assignment(user: &str, role: &str, scope: &str) -> RuleRow {
    rule("g", &[user, role, scope])
}

pub async fn authz_rules_are_added_once_and_bump_the_version<S: Store>(s: S) {
    assert_eq!(s.authz_version().await.unwrap(), 0, "never written");
    assert!(s.authz_rules().await.unwrap().is_empty());
    let p = rule("p", &["role^admin", "act^view", "lib^*", "allow"]);
    let g = assignment("user^alice", "role^admin", "lib^lib:X:y");
    // A duplicate inside one call is inserted once.
    let added = s
        .add_authz_rules(&[p.clone(), g.clone(), g.clone()], "tester", 10)
        .await
        .unwrap();
    assert_eq!(added, 2);
    assert_eq!(s.authz_version().await.unwrap(), 1, "one bump per call");
    assert_eq!(s.authz_rules().await.unwrap(), vec![p.clone(), g.clone()]);

    let again = s
        .add_authz_rules(std::slice::from_ref(&g), "tester", 11)
        .await
        .unwrap();
    assert_eq!(again, 0);
    assert_eq!(
        s.authz_version().await.unwrap(),
        1,
        "a call that changes nothing does not bump"
    );
    // Values are compared exactly: another scope is another rule.
    let other = assignment("user^alice", "role^admin", "lib^lib:X:z");
    assert_eq!(s.add_authz_rules(&[other], "tester", 12).await.unwrap(), 1);
    assert_eq!(s.authz_version().await.unwrap(), 2);
    assert_eq!(s.authz_rules().await.unwrap().len(), 3);
}

pub async fn authz_rules_are_removed_exactly<S: Store>(s: S) {
    let g1 = assignment("user^bob", "role^author", "lib^lib:X:y");
    let g2 = assignment("user^bob", "role^author", "*");
    s.add_authz_rules(&[g1.clone(), g2.clone()], "tester", 1)
        .await
        .unwrap();
    let absent = assignment("user^bob", "role^admin", "lib^lib:X:y");
    assert_eq!(
        s.remove_authz_rules(&[absent], "tester", 2).await.unwrap(),
        0
    );
    assert_eq!(s.authz_version().await.unwrap(), 1);
    assert_eq!(
        s.remove_authz_rules(&[g1.clone(), g1.clone()], "tester", 3)
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.authz_version().await.unwrap(), 2);
    assert_eq!(s.authz_rules().await.unwrap(), vec![g2]);
}

pub async fn every_rule_change_is_audited<S: Store>(s: S) {
    let g = assignment("user^carol", "role^user", "lib^lib:X:y");
    let g2 = rule("g2", &["act^edit", "act^view"]);
    s.add_authz_rules(&[g.clone(), g2], "client:abc", 100)
        .await
        .unwrap();
    s.add_authz_rules(std::slice::from_ref(&g), "client:abc", 101)
        .await
        .unwrap();
    s.remove_authz_rules(&[g], "cli:root", 102).await.unwrap();
    let events = s.audit_events(10).await.unwrap();
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.at, e.actor.as_str(), e.action.as_str(), e.detail.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                102,
                "cli:root",
                "authz.rule.remove",
                "g, user^carol, role^user, lib^lib:X:y"
            ),
            (
                100,
                "client:abc",
                "authz.rule.add",
                "g2, act^edit, act^view"
            ),
            (
                100,
                "client:abc",
                "authz.rule.add",
                "g, user^carol, role^user, lib^lib:X:y"
            ),
        ],
        "newest first; a call that changed nothing left no event"
    );
    assert!(events[0].id > events[1].id);
    assert_eq!(s.audit_events(1).await.unwrap().len(), 1);
}

pub async fn large_rule_sets_are_written_in_one_call<S: Store>(s: S) {
    let rows: Vec<RuleRow> = (0..1050)
        .map(|i| assignment(&format!("user^u{i}"), "role^user", "lib^lib:X:y"))
        .collect();
    assert_eq!(s.add_authz_rules(&rows, "import", 5).await.unwrap(), 1050);
    assert_eq!(s.authz_rules().await.unwrap(), rows, "insertion order");
    assert_eq!(s.authz_version().await.unwrap(), 1);
    assert_eq!(s.audit_events(5000).await.unwrap().len(), 1050);
}

pub async fn staff_keys_name_staff_and_superusers<S: Store>(s: S) {
    a_user(&s, "plain").await;
    let mut staff = user_row("staffer", "Staffer@Example.org");
    staff.is_staff = true;
    s.insert_user(&staff).await.unwrap();
    let mut root = user_row("root", "root@example.org");
    root.is_superuser = true;
    s.insert_user(&root).await.unwrap();
    s.set_user_disabled("root", true, 100).await.unwrap();
    let mut keys = s.staff_keys().await.unwrap();
    keys.sort();
    assert_eq!(
        keys,
        ["Staffer@Example.org", "root", "root@example.org", "staffer"],
        "disabled superusers count, as upstream's check ignores is_active"
    );
}

pub async fn staff_accounts_move_the_authz_version<S: Store>(s: S) {
    let mut early = user_row("early", "early@example.org");
    early.is_staff = true;
    s.insert_user(&early).await.unwrap();
    assert_eq!(
        s.authz_version().await.unwrap(),
        0,
        "version 0 still means: seed the default policy"
    );
    s.add_authz_rules(&[assignment("a", "r", "lib^x")], "t", 1)
        .await
        .unwrap();
    let v = s.authz_version().await.unwrap();
    a_user(&s, "plain").await;
    assert_eq!(
        s.authz_version().await.unwrap(),
        v,
        "a plain account is no policy change"
    );
    let mut staff = user_row("staffer", "staffer@example.org");
    staff.is_staff = true;
    s.insert_user(&staff).await.unwrap();
    assert_eq!(s.authz_version().await.unwrap(), v + 1);
    let mut root = user_row("root", "root@example.org");
    root.is_superuser = true;
    s.insert_user(&root).await.unwrap();
    assert_eq!(s.authz_version().await.unwrap(), v + 2);
    // A refused insert changes nothing.
    assert!(s.insert_user(&root).await.is_err());
    assert_eq!(s.authz_version().await.unwrap(), v + 2);
}
