//! Conformance of `AttemptStore`: the password attempt counters every node shares, on the backend
//! that has them (PostgreSQL; SQLite's one node counts in process).

use std::sync::Arc;

use latchkey_core::store::*;
use latchkey_core::throttle::Outcome;

fn counter(key: &str, limit: u32) -> AttemptLimit {
    AttemptLimit {
        key: key.as_bytes().to_vec(),
        limit,
    }
}

fn ending(key: &str, started: i64, outcome: Outcome) -> AttemptEnd {
    AttemptEnd {
        key: key.as_bytes().to_vec(),
        started,
        outcome,
    }
}

fn window(taken: bool, started: i64, attempts: u32, in_flight: u32) -> AttemptWindow {
    AttemptWindow {
        taken,
        started,
        attempts,
        in_flight,
    }
}

/// The account's window after one attempt at it alone.
async fn take_alone(s: &impl AttemptStore, account: &AttemptLimit, now: i64) -> AttemptWindow {
    match s.take_attempt(None, account, now, 60).await.unwrap() {
        Taken::Account {
            network: None,
            account,
        } => account,
        other => panic!("no network was given: {other:?}"),
    }
}

pub async fn a_counter_refuses_at_its_limit_until_its_window_ends<S: AttemptStore>(s: S) {
    let alice = counter("alice", 3);
    for n in 1..=3 {
        assert_eq!(take_alone(&s, &alice, 100).await, window(true, 100, n, n));
    }
    // Full, with all three still in flight: refused, and left as it was.
    assert_eq!(take_alone(&s, &alice, 159).await, window(false, 100, 3, 3));
    assert_eq!(take_alone(&s, &alice, 159).await, window(false, 100, 3, 3));
    // The window ends at 160: a new one starts, empty; attempts still in flight are not carried.
    assert_eq!(take_alone(&s, &alice, 160).await, window(true, 160, 1, 1));
    // Ending an attempt of the old window changes nothing in the new one.
    s.end_attempt(None, Some(&ending("alice", 100, Outcome::GivenBack)))
        .await
        .unwrap();
    assert_eq!(take_alone(&s, &alice, 161).await, window(true, 160, 2, 2));
    // Other counters are apart, and a limit of zero refuses everything.
    assert_eq!(
        take_alone(&s, &counter("bob", 3), 161).await,
        window(true, 161, 1, 1)
    );
    assert_eq!(
        take_alone(&s, &counter("carol", 0), 161).await,
        window(false, 161, 0, 0)
    );
}

pub async fn an_ending_keeps_gives_back_or_forgives<S: AttemptStore>(s: S) {
    let dave = counter("dave", 10);
    for _ in 0..3 {
        take_alone(&s, &dave, 0).await;
    }
    let end = |outcome| ending("dave", 0, outcome);
    // A failure stays counted and is no longer in flight.
    s.end_attempt(None, Some(&end(Outcome::Failed)))
        .await
        .unwrap();
    assert_eq!(take_alone(&s, &dave, 1).await, window(true, 0, 4, 3));
    // An attempt given back no longer counts.
    s.end_attempt(None, Some(&end(Outcome::GivenBack)))
        .await
        .unwrap();
    assert_eq!(take_alone(&s, &dave, 1).await, window(true, 0, 4, 3));
    // A success forgives every finished failure; the attempts still in flight stay.
    s.end_attempt(None, Some(&end(Outcome::Forgiven)))
        .await
        .unwrap();
    assert_eq!(take_alone(&s, &dave, 1).await, window(true, 0, 3, 3));
}

pub async fn a_refusing_network_leaves_the_account_alone<S: AttemptStore>(s: S) {
    let office = counter("office", 2);
    for login in ["erin", "frank"] {
        let taken = s
            .take_attempt(Some(&office), &counter(login, 10), 0, 60)
            .await
            .unwrap();
        assert!(
            matches!(taken, Taken::Account { network: Some(n), account: a } if n.taken && a.taken)
        );
    }
    let refused = s
        .take_attempt(Some(&office), &counter("grace", 10), 0, 60)
        .await
        .unwrap();
    assert_eq!(refused, Taken::NetworkRefused(window(false, 0, 2, 2)));
    assert_eq!(
        take_alone(&s, &counter("grace", 10), 0).await,
        window(true, 0, 1, 1),
        "the account was not touched"
    );
    // An account that refuses is answered with the network's window, which took its attempt
    // (the caller gives it back).
    let home = counter("home", 10);
    s.take_attempt(Some(&home), &counter("heidi", 1), 0, 60)
        .await
        .unwrap();
    let refused = s
        .take_attempt(Some(&home), &counter("heidi", 1), 0, 60)
        .await
        .unwrap();
    assert_eq!(
        refused,
        Taken::Account {
            network: Some(window(true, 0, 2, 2)),
            account: window(false, 0, 1, 1),
        }
    );
    s.end_attempt(Some(&ending("home", 0, Outcome::GivenBack)), None)
        .await
        .unwrap();
    let again = s
        .take_attempt(Some(&home), &counter("ivan", 1), 0, 60)
        .await
        .unwrap();
    assert!(matches!(again, Taken::Account { network: Some(n), .. } if n.attempts == 2));
}

/// Fifty attempts at one account at once, over one pool of connections as over many nodes: each
/// sees the one before it, and exactly the limit are taken.
pub async fn parallel_attempts_take_exactly_the_limit<S: AttemptStore + 'static>(s: S) {
    let s = Arc::new(s);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let network = counter(&format!("net{}", i % 5), 100);
                s.take_attempt(Some(&network), &counter("judy", 10), 0, 60)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut taken = 0;
    for task in tasks {
        if let Taken::Account { account, .. } = task.await.unwrap() {
            taken += u32::from(account.taken);
        }
    }
    assert_eq!(taken, 10);
}

/// Reservations and endings of the same counters, crosswise from many tasks at once: none waits
/// for another in a cycle (PostgreSQL would break one with "deadlock detected"), and when all are
/// ended nothing is left in flight.
pub async fn reservations_and_endings_never_deadlock<S: AttemptStore + 'static>(s: S) {
    let s = Arc::new(s);
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let (net, login) = (["n1", "n2"][i % 2], ["k1", "k2"][(i / 2) % 2]);
                for _ in 0..20 {
                    let taken = s
                        .take_attempt(
                            Some(&counter(net, u32::MAX)),
                            &counter(login, u32::MAX),
                            0,
                            60,
                        )
                        .await
                        .unwrap();
                    let Taken::Account {
                        network: Some(n),
                        account: a,
                    } = taken
                    else {
                        panic!("{taken:?}")
                    };
                    let (net_end, login_end) = (
                        ending(net, n.started, Outcome::GivenBack),
                        ending(login, a.started, Outcome::GivenBack),
                    );
                    s.end_attempt(Some(&net_end), Some(&login_end))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for key in ["k1", "k2"] {
        assert_eq!(
            take_alone(&*s, &counter(key, 10), 0).await,
            window(true, 0, 1, 1)
        );
    }
}

pub async fn ended_windows_are_purged_in_batches<S: AttemptStore>(s: S) {
    for key in ["old1", "old2", "old3"] {
        take_alone(&s, &counter(key, 10), 0).await;
    }
    take_alone(&s, &counter("recent", 10), 100).await;
    // Windows of 60 s, at 100: those that started at 40 or before have ended.
    assert_eq!(s.purge_attempt_windows(40, 2).await.unwrap(), 2);
    assert_eq!(s.purge_attempt_windows(40, 2).await.unwrap(), 1);
    assert_eq!(s.purge_attempt_windows(40, 2).await.unwrap(), 0);
    assert_eq!(
        take_alone(&s, &counter("recent", 10), 100).await,
        window(true, 100, 2, 2)
    );
}
