//! Deterministic generators shared by the differential tests: policies over a
//! small vocabulary (non-ASCII keys, globs, deny lines, `g`/`g2` chains longer
//! than the 9-link bound, cycles) and requests over it, plus the real
//! openedx-authz policy with generated assignments.

#![allow(dead_code)]

pub mod casbin_crate;

use latchkey_authz::{Policy, Request, RequestError, RuleRow, OPENEDX_POLICY};

/// SplitMix64: small, deterministic, good enough to spread test cases.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn percent(&mut self, p: u64) -> bool {
        self.next_u64() % 100 < p
    }

    pub fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }
}

/// `(username, email, is_staff, is_superuser)` — the user table both the
/// oracles and the engine's staff directory are built from.
pub const USERS: &[(&str, &str, bool, bool)] = &[
    ("admin1", "a1@example.com", true, false),
    ("adm\u{fc}", "adm-u@example.com", false, true),
    ("root", "root@example.com", true, true),
    ("alice", "ann@example.com", false, false),
    ("zo\u{eb}", "zoe@example.com", false, false),
];

/// Does `key` (username or email) name a staff or superuser account?
pub fn is_staff_key(key: &str) -> bool {
    USERS
        .iter()
        .any(|&(u, e, staff, sup)| (staff || sup) && (key == u || key == e))
}

pub const SUBJECTS: &[&str] = &[
    "user^alice",
    "user^ann@example.com",
    "user^zo\u{eb}",
    "user^\u{6771}\u{4eac}",
    "user^bob",
    "user^admin1",
    "user^a1@example.com",
    "user^adm\u{fc}",
    "user^root@example.com",
    "service^root",
    "user^",
];
pub const ROLES: &[&str] = &[
    "role^r0",
    "role^r1",
    "role^r2",
    "role^r3",
    "role^\u{e9}diteur",
];
pub const ACTIONS: &[&str] = &[
    "act^a0",
    "act^a1",
    "act^a2",
    "act^a3",
    "act^a4",
    "act^\u{e9}dit",
    "act^view",
];
pub const SCOPES: &[&str] = &[
    "lib^lib:Org1:x",
    "lib^lib:Org1:y",
    "lib^lib:Org1\u{e9}:x",
    "lib^lib:\u{65e5}\u{672c}:z",
    "course-v1^course-v1:OpenedX+C1+R1",
    "course-v1^course-v1:OpenedX+C2+R1",
    "course-v1^course-v1:Other+C1+R1",
    "org^OpenedX",
    "global^g",
];
pub const PATTERNS: &[&str] = &[
    "lib^*",
    "course-v1^*",
    "*",
    "course-v1^course-v1:OpenedX+*",
    "lib^lib:Org1:*",
    "lib^lib:Org1*",
    "lib^lib:\u{65e5}*",
    "org^*",
];
/// Valid but unusual request scopes.
pub const ODD_SCOPES: &[&str] = &[
    "^lib^x",
    "lib^^",
    "LIB^lib:Org1:x",
    "lib^lib:Org1:x\n",
    "lib^lib:Org1:",
];
/// Scopes and subjects openedx-authz rejects.
pub const INVALID_SCOPES: &[&str] = &["*", "lib^", "x", "", "^x", "a\n^b"];
pub const INVALID_SUBJECTS: &[&str] = &["alice", ""];

#[derive(Debug, Clone, Copy)]
pub struct GenOptions {
    /// Role-to-role links (inheritance), chains longer than 9 links included.
    pub role_chains: bool,
    /// Requests openedx-authz rejects.
    pub invalid_requests: bool,
    /// Requests per case.
    pub requests: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Case {
    /// Policy text loaded before the generated lines (the real authz.policy).
    pub base: Option<&'static str>,
    pub p: Vec<(String, String, String, &'static str)>,
    pub g: Vec<(String, String, String)>,
    pub g2: Vec<(String, String)>,
    /// Load `g` lines as casbin_rule rows instead of CSV lines.
    pub g_as_rows: bool,
    pub requests: Vec<(String, String, String)>,
}

impl Case {
    /// The policy CSV (base, then p, g2 and — unless loaded as rows — g lines).
    pub fn csv(&self) -> String {
        let mut out = String::new();
        if let Some(base) = self.base {
            out.push_str(base);
            out.push('\n');
        }
        for (s, a, c, e) in &self.p {
            out.push_str(&format!("p, {s}, {a}, {c}, {e}\n"));
        }
        for (x, y) in &self.g2 {
            out.push_str(&format!("g2, {x}, {y}\n"));
        }
        if !self.g_as_rows {
            for (s, r, d) in &self.g {
                out.push_str(&format!("g, {s}, {r}, {d}\n"));
            }
        }
        out
    }

    /// casbin_rule rows for the `g` lines when they load as rows; an empty
    /// `v1` column shows that empty values are skipped.
    pub fn rows(&self) -> Vec<RuleRow> {
        if !self.g_as_rows {
            return Vec::new();
        }
        self.g
            .iter()
            .map(|(s, r, d)| RuleRow {
                ptype: "g".into(),
                values: [
                    s.clone(),
                    String::new(),
                    r.clone(),
                    d.clone(),
                    String::new(),
                    String::new(),
                ],
            })
            .collect()
    }

    pub fn policy(&self) -> Policy {
        let mut policy = Policy::parse_csv(&self.csv()).expect("generated policy loads");
        policy
            .extend_rule_rows(&self.rows())
            .expect("generated rows load");
        policy
    }

    /// The same assignments and implications, with each deny line turned into
    /// an allow line and every allow line dropped: under it (and no staff), a
    /// request is allowed iff some deny line of the original applies to it.
    pub fn deny_lines_as_grants(&self) -> Case {
        let mut flipped = self.clone();
        if let Some(base) = self.base {
            let parsed = Policy::parse_csv(base).expect("base policy loads");
            assert!(
                parsed
                    .permissions
                    .iter()
                    .all(|p| p.effect == latchkey_authz::Effect::Allow),
                "base policy has deny lines"
            );
            flipped.base = None;
            for i in parsed.implications {
                flipped.g2.push((i.granted, i.implied));
            }
        }
        flipped.p = self
            .p
            .iter()
            .filter(|l| l.3 == "deny")
            .map(|(s, a, c, _)| (s.clone(), a.clone(), c.clone(), "allow"))
            .collect();
        flipped
    }
}

/// How the engine must answer a request, as far as validity goes.
pub fn request_error(s: &str, a: &str, c: &str) -> Option<RequestError> {
    Request::new(s, a, c).err()
}

/// Is the request one where the staff bypass applies (valid, library or
/// course scope, staff user key)?
pub fn staff_applies(s: &str, a: &str, c: &str) -> bool {
    Request::new(s, a, c)
        .map(|r| r.in_staff_scope() && is_staff_key(r.user_key()))
        .unwrap_or(false)
}

/// A random policy over the vocabulary, with requests.
pub fn generated_case(rng: &mut Rng, opts: GenOptions) -> Case {
    let mut case = Case {
        g_as_rows: rng.percent(25),
        ..Case::default()
    };
    let domain = |rng: &mut Rng| -> String {
        match rng.below(4) {
            0 | 1 => rng.pick(SCOPES).to_owned(),
            2 => "*".to_owned(),
            _ => rng.pick(PATTERNS).to_owned(),
        }
    };
    let p_subject = |rng: &mut Rng| -> String {
        if rng.percent(10) {
            rng.pick(SUBJECTS).to_owned()
        } else {
            rng.pick(ROLES).to_owned()
        }
    };
    for _ in 0..rng.below(24) {
        let scope = if rng.percent(50) {
            rng.pick(PATTERNS)
        } else {
            rng.pick(SCOPES)
        };
        let effect = if rng.percent(20) { "deny" } else { "allow" };
        case.p.push((
            p_subject(rng),
            rng.pick(ACTIONS).to_owned(),
            scope.to_owned(),
            effect,
        ));
    }
    for _ in 0..rng.below(24) {
        let d = domain(rng);
        case.g
            .push((rng.pick(SUBJECTS).to_owned(), rng.pick(ROLES).to_owned(), d));
    }
    if opts.role_chains {
        for _ in 0..rng.below(5) {
            let d = domain(rng);
            case.g
                .push((rng.pick(ROLES).to_owned(), rng.pick(ROLES).to_owned(), d));
        }
        if rng.percent(30) {
            // user -> c0 -> c1 -> ... -> c10 in one domain; lines on c8..c10
            // sit at 9, 10 and 11 links from the user.
            let d = domain(rng);
            case.g
                .push((rng.pick(SUBJECTS).to_owned(), "role^c0".into(), d.clone()));
            for i in 0..10 {
                case.g
                    .push((format!("role^c{i}"), format!("role^c{}", i + 1), d.clone()));
            }
            for i in 7..11 {
                let effect = if rng.percent(20) { "deny" } else { "allow" };
                case.p.push((
                    format!("role^c{i}"),
                    rng.pick(ACTIONS).to_owned(),
                    rng.pick(PATTERNS).to_owned(),
                    effect,
                ));
            }
        }
    }
    for _ in 0..rng.below(8) {
        case.g2
            .push((rng.pick(ACTIONS).to_owned(), rng.pick(ACTIONS).to_owned()));
    }
    if rng.percent(30) {
        // act^k0 -> ... -> act^k11; the line on k0 covers k0..k9 only.
        for i in 0..11 {
            case.g2
                .push((format!("act^k{i}"), format!("act^k{}", i + 1)));
        }
        let effect = if rng.percent(30) { "deny" } else { "allow" };
        case.p.push((
            rng.pick(ROLES).to_owned(),
            "act^k0".into(),
            rng.pick(PATTERNS).to_owned(),
            effect,
        ));
    }
    case.requests = (0..opts.requests)
        .map(|_| random_request(rng, opts))
        .collect();
    case
}

fn random_request(rng: &mut Rng, opts: GenOptions) -> (String, String, String) {
    let s = if opts.invalid_requests && rng.percent(3) {
        rng.pick(INVALID_SUBJECTS).to_owned()
    } else if rng.percent(5) {
        rng.pick(ROLES).to_owned()
    } else {
        rng.pick(SUBJECTS).to_owned()
    };
    let a = match rng.below(20) {
        0 => "act^unknown".to_owned(),
        1 => format!("act^k{}", rng.below(12)),
        _ => rng.pick(ACTIONS).to_owned(),
    };
    let c = match rng.below(20) {
        0 if opts.invalid_requests => rng.pick(INVALID_SCOPES).to_owned(),
        1 => rng.pick(ODD_SCOPES).to_owned(),
        2 | 3 => rng.pick(PATTERNS).to_owned(),
        4 => "lib^lib:Org1:new".to_owned(),
        _ => rng.pick(SCOPES).to_owned(),
    };
    (s, a, c)
}

/// Scopes for the real-policy cases.
pub const OPENEDX_SCOPES: &[&str] = &[
    "lib^lib:DemoX:CSPROB",
    "lib^lib:OpenedX:intro",
    "lib^lib:\u{dc}n\u{ef}:c\u{f6}d\u{e9}",
    "course-v1^course-v1:OpenedX+DemoX+2024_T1",
    "course-v1^course-v1:OpenedX+Intro+2025",
    "course-v1^course-v1:edX+Demo+T1",
    "course-v1^course-v1:\u{c9}cole+M\u{e9}ca+2025",
];
pub const OPENEDX_GLOBS: &[&str] = &[
    "course-v1^course-v1:OpenedX+*",
    "lib^lib:OpenedX:*",
    "lib^*",
    "course-v1^*",
];

/// The real authz.policy plus generated assignments (exact, global and
/// org-wide scopes), sometimes extra deny lines and role inheritance.
pub fn openedx_case(rng: &mut Rng, requests: usize) -> Case {
    let base = Policy::parse_csv(OPENEDX_POLICY).expect("authz.policy loads");
    let mut roles: Vec<String> = base.permissions.iter().map(|p| p.subject.clone()).collect();
    roles.dedup();
    let mut actions: Vec<String> = base.permissions.iter().map(|p| p.action.clone()).collect();
    actions.sort();
    actions.dedup();
    let mut case = Case {
        base: Some(OPENEDX_POLICY),
        g_as_rows: rng.percent(50),
        ..Case::default()
    };
    for _ in 0..rng.below(40) {
        let d = match rng.below(8) {
            0 => "*".to_owned(),
            1 | 2 => rng.pick(OPENEDX_GLOBS).to_owned(),
            _ => rng.pick(OPENEDX_SCOPES).to_owned(),
        };
        case.g
            .push((rng.pick(SUBJECTS).to_owned(), rng.pick(&roles), d));
    }
    if rng.percent(40) {
        for _ in 0..1 + rng.below(3) {
            let scope = if rng.percent(50) {
                rng.pick(OPENEDX_GLOBS)
            } else {
                rng.pick(OPENEDX_SCOPES)
            };
            case.p.push((
                rng.pick(&roles),
                rng.pick(&actions),
                scope.to_owned(),
                "deny",
            ));
        }
    }
    if rng.percent(20) {
        let d = rng.pick(OPENEDX_SCOPES).to_owned();
        case.g.push((rng.pick(&roles), rng.pick(&roles), d));
    }
    case.requests = (0..requests)
        .map(|_| {
            let s = if rng.percent(2) {
                rng.pick(INVALID_SUBJECTS).to_owned()
            } else {
                rng.pick(SUBJECTS).to_owned()
            };
            let a = if rng.percent(5) {
                "act^courses.unknown".to_owned()
            } else {
                rng.pick(&actions)
            };
            let c = match rng.below(30) {
                0 => rng.pick(INVALID_SCOPES).to_owned(),
                1 | 2 => rng.pick(OPENEDX_GLOBS).to_owned(),
                3 => "org^OpenedX".to_owned(),
                _ => rng.pick(OPENEDX_SCOPES).to_owned(),
            };
            (s, a, c)
        })
        .collect();
    case
}
