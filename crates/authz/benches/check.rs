//! Per-check latency and load time at 100,000 role assignments and 10,000
//! policy lines, latchkey-authz next to the `casbin` crate in the same run.
//!
//! Run: `cargo bench -p latchkey-authz --bench check`
//!
//! The data is generated deterministically: the real openedx-authz policy plus
//! generated roles, actions (with `g2` implications), scope patterns (global,
//! per-namespace, per-org prefixes, exact) and deny lines up to 10,000 `p`
//! lines; 50,000 users holding two assignments each (exact library and course
//! scopes, org globs, a few global). Besides criterion's estimates, the bench
//! prints per-call latency distributions (median, p99) from timing each call.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

use casbin::rhai::Dynamic;
use casbin::CoreApi;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use latchkey_authz::{
    CachedEngine, Engine, Model, Policy, Request, Settings, StaffSet, OPENEDX_MODEL, OPENEDX_POLICY,
};
use support::Rng;
const POLICY_LINES: usize = 10_000;
const USERS: usize = 50_000;
const ASSIGNMENTS_PER_USER: usize = 2;
const ORGS: usize = 100;
const SCOPES_PER_KIND: usize = 5_000;
const ROLES: usize = 200;
const ACTIONS: usize = 500;
const REQUESTS: usize = 20_000;

fn lib(i: usize) -> String {
    format!("lib^lib:Org{}:lib{i}", i % ORGS)
}

fn course(i: usize) -> String {
    format!("course-v1^course-v1:Org{}+C{i}+R1", i % ORGS)
}

struct Data {
    csv: String,
    requests: Vec<(String, String, String)>,
}

fn generate() -> Data {
    let mut rng = Rng::new(0x00be_0c00);
    let mut csv = String::from(OPENEDX_POLICY);
    csv.push('\n');
    let base = Policy::parse_csv(OPENEDX_POLICY).unwrap();
    let mut p_lines = base.permissions.len();
    // Per custom role: its lines as (action, scope pattern).
    let mut role_lines: Vec<Vec<(String, String)>> = vec![Vec::new(); ROLES];
    while p_lines < POLICY_LINES {
        let r = rng.below(ROLES);
        let action = format!("act^custom.a{}", rng.below(ACTIONS));
        let scope = match rng.below(10) {
            0 => "lib^*".to_owned(),
            1 => "course-v1^*".to_owned(),
            2..=4 => format!("lib^lib:Org{}:*", rng.below(ORGS)),
            5..=7 => format!("course-v1^course-v1:Org{}+*", rng.below(ORGS)),
            8 => lib(rng.below(SCOPES_PER_KIND)),
            _ => course(rng.below(SCOPES_PER_KIND)),
        };
        let effect = if rng.below(20) == 0 { "deny" } else { "allow" };
        csv.push_str(&format!("p, role^custom{r}, {action}, {scope}, {effect}\n"));
        role_lines[r].push((action, scope));
        p_lines += 1;
    }
    for _ in 0..300 {
        let (a, b) = (rng.below(ACTIONS), rng.below(ACTIONS));
        csv.push_str(&format!("g2, act^custom.a{a}, act^custom.a{b}\n"));
    }
    let mut real_roles: Vec<String> = base.permissions.iter().map(|p| p.subject.clone()).collect();
    real_roles.dedup();
    let real_lines: Vec<(String, String)> = base
        .permissions
        .iter()
        .map(|p| (p.action.clone(), p.scope.clone()))
        .collect();
    let mut assignments: Vec<Vec<(String, String)>> = Vec::with_capacity(USERS);
    for u in 0..USERS {
        let mut mine = Vec::new();
        for _ in 0..ASSIGNMENTS_PER_USER {
            let role = if rng.below(4) == 0 {
                real_roles[rng.below(real_roles.len())].clone()
            } else {
                format!("role^custom{}", rng.below(ROLES))
            };
            let scope = match rng.below(50) {
                0 => "*".to_owned(),
                1..=9 => format!("course-v1^course-v1:Org{}+*", rng.below(ORGS)),
                10..=29 => lib(rng.below(SCOPES_PER_KIND)),
                _ => course(rng.below(SCOPES_PER_KIND)),
            };
            csv.push_str(&format!("g, user^u{u}, {role}, {scope}\n"));
            mine.push((role, scope));
        }
        assignments.push(mine);
    }
    // Half the requests ask for something a held role has a line for, in a
    // scope where that line applies; the rest are random.
    let requests = (0..REQUESTS)
        .map(|n| {
            let u = rng.below(USERS + USERS / 10);
            let subject = if n % 1000 == 0 {
                "user^staff".to_owned()
            } else {
                format!("user^u{u}")
            };
            let held = assignments.get(u).map(|a| a[rng.below(a.len())].clone());
            let random_scope = |rng: &mut Rng| {
                if rng.below(2) == 0 {
                    lib(rng.below(SCOPES_PER_KIND))
                } else {
                    course(rng.below(SCOPES_PER_KIND))
                }
            };
            match held {
                Some((role, held_scope)) if rng.below(2) == 0 => {
                    let lines = match role
                        .strip_prefix("role^custom")
                        .and_then(|n| n.parse::<usize>().ok())
                    {
                        Some(r) => &role_lines[r],
                        None => &real_lines,
                    };
                    let scope = if held_scope == "*" || held_scope.ends_with('*') {
                        random_scope(&mut rng)
                    } else {
                        held_scope
                    };
                    let fitting: Vec<&(String, String)> = lines
                        .iter()
                        .filter(|(_, p)| latchkey_authz::key_match(&scope, p))
                        .collect();
                    let action = match fitting.len() {
                        0 => format!("act^custom.a{}", rng.below(ACTIONS)),
                        n => fitting[rng.below(n)].0.clone(),
                    };
                    (subject, action, scope)
                }
                _ => (
                    subject,
                    format!("act^custom.a{}", rng.below(ACTIONS)),
                    random_scope(&mut rng),
                ),
            }
        })
        .collect();
    Data { csv, requests }
}

fn staff() -> StaffSet {
    StaffSet::new(["staff"])
}

fn build(csv: &str) -> Engine {
    let model = Model::parse(OPENEDX_MODEL).unwrap();
    let policy = Policy::parse_csv(csv).unwrap();
    Engine::new(&model, policy, Settings::default(), staff())
}

fn casbin_staff(sub: Dynamic, _act: Dynamic, scope: Dynamic) -> Dynamic {
    let (sub, scope) = (sub.to_string(), scope.to_string());
    let ns = scope.split_once('^').map_or("", |(n, _)| n);
    ((ns == "lib" || ns == "course-v1") && sub.split_once('^').is_some_and(|(_, k)| k == "staff"))
        .into()
}

fn casbin_enforcer(csv: &str) -> casbin::Enforcer {
    support::casbin_crate::enforcer(&Policy::parse_csv(csv).unwrap(), casbin_staff, false)
}

/// Time each call separately; report median, p99 and mean.
fn distribution(label: &str, calls: usize, mut f: impl FnMut(usize)) -> (Duration, Duration) {
    let mut times: Vec<Duration> = Vec::with_capacity(calls);
    for i in 0..calls {
        let start = Instant::now();
        f(i);
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!("{label:<34} calls={calls:>6}  median={median:>10.2?}  p99={p99:>10.2?}  mean={mean:>10.2?}");
    (median, p99)
}

fn bench(c: &mut Criterion) {
    let data = generate();
    let lines = data.csv.lines().count();
    println!("\n== latchkey-authz check bench: {lines} policy-file lines (100k g, 10k p) ==");

    let start = Instant::now();
    let policy = Policy::parse_csv(&data.csv).unwrap();
    let parsed = start.elapsed();
    let model = Model::parse(OPENEDX_MODEL).unwrap();
    let start = Instant::now();
    let engine = Engine::new(&model, policy.clone(), Settings::default(), staff());
    let built = start.elapsed();
    println!(
        "load: parse CSV {parsed:.2?} + build indexes {built:.2?} ({} assignments, {} p lines)",
        engine.assignment_count(),
        policy.permissions.len()
    );
    let start = Instant::now();
    let casbin = casbin_enforcer(&data.csv);
    println!("load: casbin crate enforcer {:.2?}", start.elapsed());

    let reqs: Vec<Request<'_>> = data
        .requests
        .iter()
        .map(|(s, a, c)| Request::new(s, a, c).unwrap())
        .collect();
    let allowed = reqs
        .iter()
        .filter(|r| engine.check(r).unwrap().is_allowed())
        .count();
    println!("requests: {} ({} allowed)", reqs.len(), allowed);

    let timer = distribution("timer overhead (empty call)", 100_000, |i| {
        black_box(i);
    });
    let (ours, _) = distribution("latchkey uncached Engine::check", reqs.len(), |i| {
        black_box(engine.check(&reqs[i]).unwrap());
    });
    let cached = CachedEngine::new(build(&data.csv), 1_000_000);
    distribution("latchkey cached, first sight (miss)", reqs.len(), |i| {
        black_box(cached.check(&reqs[i]).unwrap());
    });
    distribution("latchkey cached, warm (hit)", reqs.len(), |i| {
        black_box(cached.check(&reqs[i]).unwrap());
    });
    let casbin_calls = 300;
    let (theirs, _) = distribution("casbin crate Enforcer::enforce", casbin_calls, |i| {
        let (s, a, c) = &data.requests[i];
        black_box(
            casbin
                .enforce((s.as_str(), a.as_str(), c.as_str()))
                .unwrap(),
        );
    });
    // Same decisions as the crate, except staff (docs/design/authz-staff-deny.md).
    for (i, r) in reqs.iter().take(casbin_calls).enumerate() {
        let (s, a, c) = &data.requests[i];
        if s == "user^staff" {
            continue;
        }
        let theirs = casbin
            .enforce((s.as_str(), a.as_str(), c.as_str()))
            .unwrap();
        assert_eq!(
            engine.check(r).unwrap().is_allowed(),
            theirs,
            "decisions differ on {:?}",
            data.requests[i]
        );
    }
    println!(
        "uncached median speed-up over the casbin crate: {:.0}x (timer overhead {:?} included in both)",
        theirs.as_secs_f64() / ours.as_secs_f64(),
        timer.0
    );

    let mut group = c.benchmark_group("check");
    let mut i = 0usize;
    group.bench_function("latchkey_uncached", |b| {
        b.iter(|| {
            i = (i + 1) % reqs.len();
            engine.check(black_box(&reqs[i])).unwrap()
        })
    });
    group.bench_function("latchkey_cached_hit", |b| {
        b.iter(|| {
            i = (i + 1) % reqs.len();
            cached.check(black_box(&reqs[i])).unwrap()
        })
    });
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("casbin_crate_enforce", |b| {
        b.iter(|| {
            i = (i + 1) % casbin_calls;
            let (s, a, c) = &data.requests[i];
            casbin
                .enforce((s.as_str(), a.as_str(), c.as_str()))
                .unwrap()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("load");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("parse_and_build_100k_assignments", |b| {
        b.iter(|| build(black_box(&data.csv)))
    });
    group.bench_function("build_100k_assignments", |b| {
        b.iter_batched(
            || policy.clone(),
            |p| Engine::new(&model, p, Settings::default(), staff()),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
