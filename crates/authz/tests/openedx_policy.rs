//! What a user of the engine sees with the real openedx-authz 0.23.0 model and
//! policy: role grants, action implication and deny, global and org-wide
//! assignments, the staff bypass (and its one deliberate difference), input
//! rejection, the cache and incremental assignment changes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use latchkey_authz::{
    CachedEngine, Decision, Engine, Grant, Model, ModelError, NoStaff, Policy, Refusal, Request,
    RequestError, RuleRow, Settings, StaffSet, OPENEDX_MODEL, OPENEDX_POLICY,
};

const VIEW: &str = "act^content_libraries.view_library";
const EDIT: &str = "act^content_libraries.edit_library_content";
const PUBLISH: &str = "act^content_libraries.publish_library_content";
const DELETE: &str = "act^content_libraries.delete_library";
const LIB: &str = "lib^lib:DemoX:CSPROB";
const COURSE_VIEW: &str = "act^courses.view_course";

fn engine_with(extra: &str, settings: Settings) -> Engine {
    let model = Model::parse(OPENEDX_MODEL).unwrap();
    let mut policy = Policy::parse_csv(OPENEDX_POLICY).unwrap();
    policy.extend_csv(extra).unwrap();
    Engine::new(
        &model,
        policy,
        settings,
        StaffSet::new(["root", "root@example.com"]),
    )
}

fn engine(extra: &str) -> Engine {
    engine_with(extra, Settings::default())
}

fn check(engine: &Engine, s: &str, a: &str, c: &str) -> Decision {
    engine.check(&Request::new(s, a, c).unwrap()).unwrap()
}

#[test]
fn loads_the_released_files() {
    let policy = Policy::parse_csv(OPENEDX_POLICY).unwrap();
    assert!(policy.permissions.len() > 100);
    assert!(policy.assignments.is_empty());
    assert_eq!(policy.implications.len(), 10);
    // The same files through the loaders that read a path.
    let vendored = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openedx");
    assert!(Model::from_path(vendored.join("model.conf")).is_ok());
    assert_eq!(
        Policy::from_path(vendored.join("authz.policy")).unwrap(),
        policy
    );
}

#[test]
fn refuses_a_model_it_does_not_implement() {
    let changed =
        OPENEDX_MODEL.replace("keyMatch(r.scope, p.scope)", "regexMatch(r.scope, p.scope)");
    assert!(matches!(
        Model::parse(&changed),
        Err(ModelError::Unsupported { .. })
    ));
}

#[test]
fn role_grants_hold_in_their_scope_only() {
    let e = engine("g, user^alice, role^library_user, lib^lib:DemoX:CSPROB");
    assert_eq!(
        check(&e, "user^alice", VIEW, LIB),
        Decision::Allow(Grant::Role)
    );
    assert_eq!(
        check(&e, "user^alice", EDIT, LIB),
        Decision::Deny(Refusal::NoGrant)
    );
    assert!(!check(&e, "user^alice", VIEW, "lib^lib:DemoX:OTHER").is_allowed());
    // The role's lines are for `lib^*`: not for courses, even with the assignment there.
    let e = engine("g, user^alice, role^library_user, course-v1^course-v1:O+C+R");
    assert!(!check(&e, "user^alice", VIEW, "course-v1^course-v1:O+C+R").is_allowed());
}

#[test]
fn implied_actions_and_deny_follow_implication_downward() {
    let e = engine(
        "g, user^alice, role^library_author, lib^lib:DemoX:CSPROB\n\
         p, role^library_author, act^content_libraries.publish_library_content, lib^lib:DemoX:CSPROB, deny",
    );
    // publish -> edit -> view: a deny on publish denies what publish implies...
    assert_eq!(
        check(&e, "user^alice", PUBLISH, LIB),
        Decision::Deny(Refusal::DenyRule)
    );
    assert_eq!(
        check(&e, "user^alice", EDIT, LIB),
        Decision::Deny(Refusal::DenyRule)
    );
    assert_eq!(
        check(&e, "user^alice", VIEW, LIB),
        Decision::Deny(Refusal::DenyRule)
    );
    // ...but a deny on view does not deny an action that implies view.
    let e = engine(
        "g, user^alice, role^library_author, lib^lib:DemoX:CSPROB\n\
         p, role^library_author, act^content_libraries.view_library, lib^*, deny",
    );
    assert!(check(&e, "user^alice", PUBLISH, LIB).is_allowed());
    assert!(!check(&e, "user^alice", VIEW, LIB).is_allowed());
}

#[test]
fn global_assignments_apply_wherever_the_role_lines_match() {
    let e = engine("g, user^carol, role^course_admin, *");
    assert!(check(&e, "user^carol", COURSE_VIEW, "course-v1^course-v1:Any+C+R").is_allowed());
    assert!(!check(&e, "user^carol", VIEW, LIB).is_allowed());
    assert_eq!(e.scopes_for("user^carol", COURSE_VIEW), ["*"]);
}

#[test]
fn org_wide_patterns_need_domain_matching() {
    let extra = "g, user^dana, role^course_staff, course-v1^course-v1:OpenedX+*";
    let course = "course-v1^course-v1:OpenedX+DemoX+2024";
    let released = engine(extra);
    assert!(!check(&released, "user^dana", COURSE_VIEW, course).is_allowed());
    // Released: the glob is just a key; asked about that exact key, it matches.
    assert!(check(
        &released,
        "user^dana",
        COURSE_VIEW,
        "course-v1^course-v1:OpenedX+*"
    )
    .is_allowed());
    let mut head = Settings::default();
    head.domain_matching = true;
    let head = engine_with(extra, head);
    assert!(check(&head, "user^dana", COURSE_VIEW, course).is_allowed());
    assert!(!check(
        &head,
        "user^dana",
        COURSE_VIEW,
        "course-v1^course-v1:Other+DemoX+2024"
    )
    .is_allowed());
}

#[test]
fn staff_bypass_covers_library_and_course_scopes_only() {
    let e = engine("");
    for key in ["user^root", "user^root@example.com", "service^root"] {
        assert_eq!(
            check(&e, key, "act^anything.at_all", LIB),
            Decision::Allow(Grant::StaffBypass)
        );
        assert!(check(&e, key, COURSE_VIEW, "course-v1^course-v1:O+C+R").is_allowed());
        assert!(!check(&e, key, COURSE_VIEW, "org^OpenedX").is_allowed());
    }
    assert!(!check(&e, "user^alice", VIEW, LIB).is_allowed());
}

/// docs/design/authz-staff-deny.md: upstream lets one deny line anywhere deny
/// staff everything in every library and course. Latchkey denies staff only
/// what a deny line that applies to them covers; `staff_deny_parity` restores
/// upstream.
#[test]
fn a_deny_line_elsewhere_does_not_deny_staff_by_default() {
    let deny_elsewhere =
        "p, role^library_user, act^content_libraries.view_library, lib^lib:Secret:x, deny";
    let corrected = engine(deny_elsewhere);
    assert_eq!(
        check(&corrected, "user^root", DELETE, LIB),
        Decision::Allow(Grant::StaffBypass)
    );
    assert!(check(
        &corrected,
        "user^root",
        COURSE_VIEW,
        "course-v1^course-v1:O+C+R"
    )
    .is_allowed());

    let mut parity = Settings::default();
    parity.staff_deny_parity = true;
    let upstream = engine_with(deny_elsewhere, parity);
    assert_eq!(
        check(&upstream, "user^root", DELETE, LIB),
        Decision::Deny(Refusal::StaffDenyParity)
    );
    assert!(!check(
        &upstream,
        "user^root",
        COURSE_VIEW,
        "course-v1^course-v1:O+C+R"
    )
    .is_allowed());
    // Non-staff are unaffected either way.
    assert!(!check(&upstream, "user^alice", VIEW, LIB).is_allowed());
}

#[test]
fn a_deny_line_that_applies_to_staff_still_denies_them() {
    let e = engine(
        "g, user^root, role^library_user, lib^lib:Secret:x\n\
         p, role^library_user, act^content_libraries.view_library, lib^lib:Secret:x, deny",
    );
    assert_eq!(
        check(&e, "user^root", VIEW, "lib^lib:Secret:x"),
        Decision::Deny(Refusal::DenyRule)
    );
    // The deny covers view (and nothing view implies): the rest stays allowed.
    assert!(check(&e, "user^root", EDIT, "lib^lib:Secret:x").is_allowed());
    assert!(check(&e, "user^root", VIEW, LIB).is_allowed());
}

#[test]
fn requests_openedx_authz_rejects_are_errors() {
    for (s, c) in [
        ("user^a", "*"),
        ("user^a", "lib^"),
        ("user^a", "lib"),
        ("alice", LIB),
        ("", LIB),
    ] {
        assert!(Request::new(s, VIEW, c).is_err(), "{s:?} {c:?}");
    }
    assert!(matches!(
        Request::new("user^a", VIEW, "*"),
        Err(RequestError::ScopeNotNamespaced { .. })
    ));
}

#[test]
fn non_ascii_keys() {
    let e = engine(
        "g, user^zo\u{eb}, role^library_admin, lib^lib:\u{dc}n\u{ef}:c\u{f6}d\u{e9}\n\
         p, role^library_admin, act^content_libraries.view_library, lib^lib:\u{dc}*, deny",
    );
    let scope = "lib^lib:\u{dc}n\u{ef}:c\u{f6}d\u{e9}";
    assert!(check(&e, "user^zo\u{eb}", DELETE, scope).is_allowed());
    assert!(!check(&e, "user^zo\u{eb}", VIEW, scope).is_allowed());
    // NFD spelling is another key.
    assert!(!check(&e, "user^zoe\u{308}", DELETE, scope).is_allowed());
}

#[test]
fn rule_rows_load_like_the_django_adapter() {
    let model = Model::parse(OPENEDX_MODEL).unwrap();
    let mut policy = Policy::parse_csv(OPENEDX_POLICY).unwrap();
    let row = |v: [&str; 3]| RuleRow {
        ptype: "g".into(),
        values: [
            v[0].into(),
            v[1].into(),
            v[2].into(),
            String::new(),
            String::new(),
            String::new(),
        ],
    };
    policy
        .extend_rule_rows(&[row(["user^erin", "role^library_admin", LIB])])
        .unwrap();
    let e = Engine::new(&model, policy, Settings::default(), NoStaff);
    assert!(check(&e, "user^erin", DELETE, LIB).is_allowed());
}

#[test]
fn cached_engine_follows_assignment_changes() {
    let mut cached = CachedEngine::new(engine(""), 10_000);
    let req = Request::new("user^fay", EDIT, LIB).unwrap();
    assert!(!cached.check(&req).unwrap().is_allowed());
    assert!(cached.add_grouping("user^fay", "role^library_author", LIB));
    assert!(!cached.add_grouping("user^fay", "role^library_author", LIB));
    assert!(cached.check(&req).unwrap().is_allowed());
    assert!(cached.check(&req).unwrap().is_allowed());
    assert_eq!(cached.engine().scopes_for("user^fay", VIEW), [LIB]);
    assert!(cached.remove_grouping("user^fay", "role^library_author", LIB));
    assert!(!cached.remove_grouping("user^fay", "role^library_author", LIB));
    assert!(!cached.check(&req).unwrap().is_allowed());
    assert!(cached.engine().scopes_for("user^fay", VIEW).is_empty());
}

#[test]
fn cached_and_uncached_agree_and_staff_is_never_cached() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let is_staff = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&is_staff);
    let model = Model::parse(OPENEDX_MODEL).unwrap();
    let policy = Policy::parse_csv(OPENEDX_POLICY).unwrap();
    let dir = move |key: &str| key == "gil" && flag.load(Ordering::SeqCst);
    let cached = CachedEngine::new(Engine::new(&model, policy, Settings::default(), dir), 100);
    let req = Request::new("user^gil", VIEW, LIB).unwrap();
    assert!(!cached.check(&req).unwrap().is_allowed());
    is_staff.store(true, Ordering::SeqCst);
    assert_eq!(
        cached.check(&req).unwrap(),
        Decision::Allow(Grant::StaffBypass)
    );
    assert_eq!(
        cached.check(&req).unwrap(),
        cached.engine().check(&req).unwrap()
    );
}
