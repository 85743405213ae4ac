//! Recent answers for active access tokens. A resource server that introspects on every call asks
//! about the same token again and again; answering from memory spares the database a round trip
//! per call (on PostgreSQL that round trip is half of an introspection's CPU, BENCHMARKS.md).
//!
//! What it costs, and why it is bounded: a revocation made through this node forgets the answer at
//! once (a family revocation forgets every answer, since its access tokens are not known by hash
//! here). A change this node does not see, i.e. a revocation on another node of one database or a
//! user disabled from the CLI, shows after at most the cache's time to live (default 2 s; 0 turns
//! the cache off). Only active answers are kept, so unknown tokens cannot fill it, and an answer
//! is never served past its token's `exp`.

use std::time::Duration;

use latchkey_proto::IntrospectionResponse;

use crate::secret::TokenHash;

pub(crate) struct IntrospectionCache {
    answers: Option<moka::sync::Cache<TokenHash, IntrospectionResponse>>,
}

impl IntrospectionCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        let answers = (!ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build()
        });
        IntrospectionCache { answers }
    }

    /// The kept answer for this token, if it is still within its token's lifetime at `now`.
    pub(crate) fn get(&self, hash: &TokenHash, now: i64) -> Option<IntrospectionResponse> {
        let answer = self.answers.as_ref()?.get(hash)?;
        answer.exp.is_some_and(|exp| exp > now).then_some(answer)
    }

    pub(crate) fn keep(&self, hash: TokenHash, answer: &IntrospectionResponse) {
        if let Some(answers) = &self.answers {
            if answer.active {
                answers.insert(hash, answer.clone());
            }
        }
    }

    pub(crate) fn forget(&self, hash: &TokenHash) {
        if let Some(answers) = &self.answers {
            answers.invalidate(hash);
        }
    }

    pub(crate) fn forget_all(&self) {
        if let Some(answers) = &self.answers {
            answers.invalidate_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(exp: i64) -> IntrospectionResponse {
        IntrospectionResponse {
            active: true,
            exp: Some(exp),
            ..IntrospectionResponse::default()
        }
    }

    #[test]
    fn answers_are_served_until_forgotten_and_never_past_exp() {
        let cache = IntrospectionCache::new(Duration::from_secs(60));
        let (a, b) = (
            TokenHash::from_bytes(&[1; 32]).unwrap(),
            TokenHash::from_bytes(&[2; 32]).unwrap(),
        );
        cache.keep(a, &active(100));
        cache.keep(b, &active(100));
        assert_eq!(cache.get(&a, 99), Some(active(100)));
        assert_eq!(cache.get(&a, 100), None, "expired at its exp");
        cache.forget(&a);
        assert_eq!(cache.get(&a, 50), None);
        assert!(cache.get(&b, 50).is_some());
        cache.forget_all();
        assert_eq!(cache.get(&b, 50), None);
    }

    #[test]
    fn inactive_answers_are_not_kept_and_zero_ttl_keeps_nothing() {
        let cache = IntrospectionCache::new(Duration::from_secs(60));
        let h = TokenHash::from_bytes(&[3; 32]).unwrap();
        cache.keep(h, &IntrospectionResponse::inactive());
        assert_eq!(cache.get(&h, 0), None);
        let off = IntrospectionCache::new(Duration::ZERO);
        off.keep(h, &active(100));
        assert_eq!(off.get(&h, 0), None);
    }
}
