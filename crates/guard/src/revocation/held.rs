//! What the guard holds of the revocation feed: the revoked `jti`s until their tokens expire, and
//! each user's not-before instant. Every request with a JWT reads it, so it is a plain immutable
//! value: the follower builds the next one and swaps it in.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use latchkey_proto::{NotBefore, Revocations, RevokedJti};
use latchkey_token::AccessClaims;

/// One state of the revoked set. Its keys are hashed with foldhash, seeded per process: they come
/// from the server, and are looked up with the claims of tokens that verified, so SipHash's
/// resistance to chosen keys would buy nothing here and cost every request most of the check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Held {
    /// Revoked `jti` → its token's `exp`.
    jtis: HashMap<String, i64, RandomState>,
    /// `sub` → the latest not-before instant: the user's tokens issued before it are refused.
    users: HashMap<String, i64, RandomState>,
}

impl Held {
    /// Whether the feed has revoked the token with these claims: by its `jti`, or because it was
    /// issued before its user's not-before instant.
    pub(crate) fn revokes(&self, claims: &AccessClaims) -> bool {
        self.jtis.contains_key(claims.jti.as_str())
            || self
                .users
                .get(claims.sub.as_str())
                .is_some_and(|&not_before| claims.iat < not_before)
    }

    /// Adds an answer's entries. A user named twice keeps the later instant: instants only move
    /// forward (a newer cut-off refuses more, never less).
    pub(crate) fn add(&mut self, answer: Revocations) {
        for RevokedJti { jti, exp } in answer.jtis {
            let held = self.jtis.entry(jti).or_insert(exp);
            *held = (*held).max(exp);
        }
        for NotBefore { sub, not_before } in answer.users {
            let held = self.users.entry(sub).or_insert(not_before);
            *held = (*held).max(not_before);
        }
    }

    /// Drops the `jti`s of tokens that the expiry check refuses by now anyway (`exp` plus the
    /// leeway has passed). Not-before instants are kept until the next full read replaces them:
    /// only the server knows the longest lifetime of its tokens, and it leaves an instant out of
    /// the full set once no token it refuses can still be alive.
    pub(crate) fn prune(&mut self, now: i64, leeway: i64) {
        self.jtis
            .retain(|_, exp| exp.saturating_add(leeway.max(0)) > now);
    }

    /// How many `jti`s and users it holds.
    pub(crate) fn len(&self) -> (usize, usize) {
        (self.jtis.len(), self.users.len())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::identity::tests::claims;

    pub(crate) fn answer(jtis: &[(&str, i64)], users: &[(&str, i64)]) -> Revocations {
        Revocations {
            jtis: jtis
                .iter()
                .map(|&(jti, exp)| RevokedJti {
                    jti: jti.into(),
                    exp,
                })
                .collect(),
            users: users
                .iter()
                .map(|&(sub, not_before)| NotBefore {
                    sub: sub.into(),
                    not_before,
                })
                .collect(),
            ..Revocations::default()
        }
    }

    pub(crate) fn token(jti: &str, sub: &str, iat: i64) -> AccessClaims {
        AccessClaims {
            jti: jti.into(),
            sub: sub.into(),
            iat,
            ..claims()
        }
    }

    #[test]
    fn a_revoked_jti_is_refused_and_no_other() {
        let mut held = Held::default();
        held.add(answer(&[("j1", 2_000)], &[]));
        assert!(held.revokes(&token("j1", "alice", 1_000)));
        assert!(!held.revokes(&token("j2", "alice", 1_000)));
    }

    #[test]
    fn tokens_issued_before_the_users_instant_are_refused() {
        let mut held = Held::default();
        held.add(answer(&[], &[("alice", 1_000)]));
        assert!(held.revokes(&token("j", "alice", 999)));
        assert!(!held.revokes(&token("j", "alice", 1_000)), "issued at it");
        assert!(!held.revokes(&token("j", "alice", 1_001)));
        assert!(!held.revokes(&token("j", "bob", 999)));
        // An older instant arriving later does not let older tokens back in.
        held.add(answer(&[], &[("alice", 500)]));
        assert!(held.revokes(&token("j", "alice", 999)));
        held.add(answer(&[], &[("alice", 2_000)]));
        assert!(held.revokes(&token("j", "alice", 1_500)));
    }

    #[test]
    fn expired_jtis_are_dropped_after_the_leeway() {
        let mut held = Held::default();
        held.add(answer(&[("old", 1_000), ("new", 5_000)], &[("alice", 10)]));
        held.prune(1_029, 30);
        assert_eq!(held.len(), (2, 1), "the expiry check still has leeway");
        held.prune(1_030, 30);
        assert_eq!(held.len(), (1, 1));
        assert!(held.revokes(&token("new", "bob", 0)));
        assert!(held.revokes(&token("x", "alice", 5)), "instants stay");
    }
}
