//! The follower: long-polls the feed (`GET <issuer>/revocations?after=CURSOR&wait=SECONDS`) and
//! publishes what it reads. One task per guard, started by the first JWT (or
//! [`Guard::warm`](crate::Guard::warm)) and aborted when the guard is dropped.

use std::sync::Arc;
use std::time::Duration;

use latchkey_proto::Revocations;

use super::held::Held;
use super::Shared;
use crate::guard::now;
use crate::stats::Counter;

/// The first pause after a failed poll; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// While the feed is down, one try this often: the feed's return is noticed within it, which is
/// also what the `Retry-After` of a stale refusal tells the client (5 s).
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub(super) async fn follow(shared: Arc<Shared>) {
    let mut reading = Reading::default();
    let mut backoff = MIN_BACKOFF;
    loop {
        match shared.poll(reading.cursor).await {
            Ok(answer) => {
                backoff = MIN_BACKOFF;
                shared.stats.count(Counter::RevocationPoll);
                let cursor = answer.cursor;
                let step = reading.apply(answer, &shared.held.load(), now(), shared.leeway);
                if let Some(held) = step.publish {
                    tracing::debug!(
                        cursor,
                        held = ?held.len(),
                        "latchkey-guard: revocations applied"
                    );
                    shared.held.store(Arc::new(held));
                }
                if step.caught_up {
                    shared.caught_up(cursor, now());
                }
            }
            Err(e) => {
                shared.stats.count(Counter::RevocationPollFailure);
                shared.tried();
                tracing::warn!(error = %e, retry_in = ?backoff, "latchkey-guard: the revocation feed failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Where the follower is in the feed, between polls.
#[derive(Debug, Default)]
pub(super) struct Reading {
    /// What to send as `after`; `None` until the first answer (which is then a full read).
    cursor: Option<i64>,
    /// A full read whose later pages have not come yet. It is published only whole: published
    /// page by page, it would let a token through whose revocation is on a later page.
    pending: Option<Held>,
}

/// What one answer changes.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Step {
    /// The set to hold from now on, when the answer changed it.
    pub(super) publish: Option<Held>,
    /// The held set is everything the server had when it answered: no page is left (`more`).
    pub(super) caught_up: bool,
}

impl Reading {
    /// Takes in one answer, given the set `held` now and the clock (to drop expired entries).
    pub(super) fn apply(
        &mut self,
        answer: Revocations,
        held: &Held,
        now: i64,
        leeway: i64,
    ) -> Step {
        self.cursor = Some(answer.cursor);
        let more = answer.more;
        let mut publish = None;
        if answer.full {
            let mut whole = Held::default();
            whole.add(answer);
            self.pending = Some(whole);
        } else if let Some(pending) = &mut self.pending {
            pending.add(answer);
        } else if !answer.jtis.is_empty() || !answer.users.is_empty() {
            // Later pages of an incremental read are published at once: each only adds.
            let mut next = held.clone();
            next.add(answer);
            next.prune(now, leeway);
            publish = Some(next);
        }
        if !more {
            if let Some(mut whole) = self.pending.take() {
                whole.prune(now, leeway);
                publish = Some(whole);
            }
        }
        Step {
            publish,
            caught_up: !more,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::revocation::held::tests::{answer, token};

    fn page(
        cursor: i64,
        full: bool,
        more: bool,
        jtis: &[(&str, i64)],
        users: &[(&str, i64)],
    ) -> Revocations {
        Revocations {
            cursor,
            full,
            more,
            ..answer(jtis, users)
        }
    }

    /// Applies `answer` as the follower does: the published set replaces `held`.
    fn apply(reading: &mut Reading, held: &mut Held, answer: Revocations, now: i64) -> bool {
        let step = reading.apply(answer, held, now, 0);
        if let Some(next) = step.publish {
            *held = next;
        }
        step.caught_up
    }

    #[test]
    fn a_full_read_then_increments() {
        let (mut reading, mut held) = (Reading::default(), Held::default());
        assert_eq!(reading.cursor, None, "the first read has no cursor");
        assert!(apply(
            &mut reading,
            &mut held,
            page(5, true, false, &[("j1", 100)], &[]),
            0
        ));
        assert_eq!(reading.cursor, Some(5));
        assert!(held.revokes(&token("j1", "s", 0)));
        assert!(apply(
            &mut reading,
            &mut held,
            page(6, false, false, &[("j2", 100)], &[("s", 10)]),
            0
        ));
        assert!(held.revokes(&token("j1", "t", 20)) && held.revokes(&token("j2", "t", 20)));
        assert!(held.revokes(&token("x", "s", 5)));
        // A quiet poll ends with nothing new: nothing to publish, still caught up.
        let step = reading.apply(page(6, false, false, &[], &[]), &held, 0, 0);
        assert_eq!(
            step,
            Step {
                publish: None,
                caught_up: true
            }
        );
    }

    #[test]
    fn a_full_read_replaces_what_was_held() {
        let (mut reading, mut held) = (Reading::default(), Held::default());
        apply(
            &mut reading,
            &mut held,
            page(5, true, false, &[("j1", 100)], &[("s", 10)]),
            0,
        );
        // The server could not continue from the cursor (another database): all over again.
        apply(
            &mut reading,
            &mut held,
            page(2, true, false, &[("j2", 100)], &[]),
            0,
        );
        assert!(!held.revokes(&token("j1", "s", 5)));
        assert!(held.revokes(&token("j2", "t", 5)));
        assert_eq!(reading.cursor, Some(2));
    }

    #[test]
    fn a_paged_full_read_is_published_whole() {
        let (mut reading, mut held) = (Reading::default(), Held::default());
        held.add(answer(&[("gone", 100)], &[]));
        let first = reading.apply(page(2, true, true, &[("j1", 100)], &[]), &held, 0, 0);
        assert_eq!(
            first,
            Step {
                publish: None,
                caught_up: false
            },
            "half a set would let j2 through"
        );
        assert_eq!(reading.cursor, Some(2));
        assert!(!apply(
            &mut reading,
            &mut held,
            page(4, false, true, &[("j2", 100)], &[]),
            0
        ));
        assert!(apply(
            &mut reading,
            &mut held,
            page(5, false, false, &[], &[("s", 10)]),
            0
        ));
        for jti in ["j1", "j2"] {
            assert!(held.revokes(&token(jti, "t", 0)), "{jti}");
        }
        assert!(held.revokes(&token("x", "s", 5)));
        assert!(!held.revokes(&token("gone", "t", 0)));
    }

    #[test]
    fn incremental_pages_are_published_as_they_come() {
        let (mut reading, mut held) = (Reading::default(), Held::default());
        apply(&mut reading, &mut held, page(1, true, false, &[], &[]), 0);
        assert!(!apply(
            &mut reading,
            &mut held,
            page(3, false, true, &[("j1", 100)], &[]),
            0
        ));
        assert!(held.revokes(&token("j1", "t", 0)));
        assert_eq!(reading.cursor, Some(3));
    }

    #[test]
    fn expired_entries_are_dropped_as_sets_are_built() {
        let (mut reading, mut held) = (Reading::default(), Held::default());
        apply(
            &mut reading,
            &mut held,
            page(1, true, false, &[("old", 50), ("new", 500)], &[]),
            100,
        );
        assert_eq!(held.len(), (1, 0));
        apply(
            &mut reading,
            &mut held,
            page(2, false, false, &[("later", 600)], &[]),
            550,
        );
        assert_eq!(held.len(), (1, 0), "{held:?}");
        assert!(held.revokes(&token("later", "t", 0)));
    }
}
