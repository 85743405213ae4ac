//! The follower: long-polls the server's change feed (`GET /authz/v1/changes?after=N`) and drops
//! the decision cache whenever the rules' version moves. It runs as one task per client, started
//! by the first check and aborted when the last clone of the client is dropped.

use std::sync::Arc;
use std::time::Duration;

use latchkey_proto::authz::Changes;

use super::Shared;
use crate::stats::AuthzCounter;

/// The first pause after a failed poll; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// While the feed is down, one try this often; the cache TTL bounds staleness meanwhile.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The pause after a node answers an older version than one already seen (a load balancer in
/// front of nodes that have not all reloaded): it catches up within its janitor interval, and
/// without the pause two such nodes would answer each other's polls at once, in a loop.
const LAGGING_PAUSE: Duration = Duration::from_secs(1);

pub(crate) async fn follow(shared: Arc<Shared>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let after = shared.decisions.newest();
        match shared.poll(after).await {
            Ok(Changes { version }) => {
                backoff = MIN_BACKOFF;
                shared.stats.count(AuthzCounter::FeedPoll, 1);
                if shared.decisions.advance(version) {
                    shared.stats.count(AuthzCounter::Invalidation, 1);
                    tracing::debug!(version, "latchkey-guard: authz rules changed");
                } else if version < after {
                    tokio::time::sleep(LAGGING_PAUSE).await;
                }
            }
            Err(e) => {
                shared.stats.count(AuthzCounter::FeedError, 1);
                tracing::warn!(error = %e, retry_in = ?backoff, "latchkey-guard: the authz change feed failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
