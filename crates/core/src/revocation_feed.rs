//! The revocation feed resource servers follow (`GET /oauth2/revocations`,
//! docs/design/revocation-feed.md): revoked JWTs and users' not-before instants, read from a
//! cursor as a long poll. JWTs are checked where they are used, without asking the server; this
//! feed is how such a check learns, within seconds, what the server has taken back.

use std::sync::Arc;
use std::time::Duration;

use latchkey_proto::Revocations;
use tokio::sync::watch;

use crate::client::Permission;
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::store::{RevocationStore, StoreError};

/// Entries per answer: a follower's first read of a large set comes in pages of this size.
const PAGE: u32 = 1000;

pub struct RevocationFeed<S> {
    store: Arc<S>,
    /// The newest entry this node knows of, sent when it moves so that waiting polls answer at
    /// once; and whether the server is shutting down.
    head: watch::Sender<Head>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Head {
    number: i64,
    closing: bool,
}

impl<S: RevocationStore + 'static> RevocationFeed<S> {
    pub fn new(store: Arc<S>) -> Self {
        RevocationFeed {
            store,
            head: watch::Sender::new(Head::default()),
        }
    }

    /// What follows `after` (everything, when `after` is `None` or a cursor this database never
    /// gave), at once if there is anything; otherwise once something arrives or `wait` ends.
    /// Only a client granted [`Permission::RevocationsRead`] may read: the feed names users.
    pub async fn read(
        &self,
        client: &AuthenticatedClient,
        after: Option<i64>,
        wait: Duration,
    ) -> Result<Revocations, OAuthError> {
        client.require(Permission::RevocationsRead)?;
        // Subscribed before reading, so that an entry committed after the read wakes this poll.
        let mut head = self.head.subscribe();
        let page = self.page(after).await?;
        let Some(after) = after.filter(|&a| a == page.cursor && !page.full) else {
            return Ok(page);
        };
        if !page.jtis.is_empty() || !page.users.is_empty() {
            return Ok(page);
        }
        let moved = tokio::time::timeout(wait, head.wait_for(|h| h.number > after || h.closing))
            .await
            .is_ok_and(|h| h.is_ok_and(|h| !h.closing));
        if !moved {
            return Ok(page);
        }
        Ok(self.page(Some(after)).await?)
    }

    async fn page(&self, after: Option<i64>) -> Result<Revocations, StoreError> {
        let from = after.unwrap_or(0);
        let mut page = self.store.revocations_after(from, PAGE).await?;
        let mut full = after.is_none();
        if from > page.head {
            // A cursor from another database (a restored one, say): start again from nothing.
            page = self.store.revocations_after(0, PAGE).await?;
            full = true;
        }
        self.saw(page.head);
        Ok(Revocations {
            cursor: page.cursor,
            full,
            more: page.more,
            jtis: page.jtis,
            users: page.users,
        })
    }

    /// Reads the newest entry's number, waking the polls that wait for it: on a change notice,
    /// and on a short tick as the safety net for a missed one.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let head = self.store.revocation_head().await?;
        self.saw(head);
        Ok(())
    }

    fn saw(&self, number: i64) {
        self.head.send_if_modified(|h| {
            let newer = number > h.number;
            if newer {
                h.number = number;
            }
            newer
        });
    }

    /// Ends the waits of [`read`](Self::read), now and later: at shutdown, so that long polls
    /// do not hold up a graceful stop (followers poll again, elsewhere).
    pub fn close(&self) {
        self.head.send_modify(|h| h.closing = true);
    }
}
