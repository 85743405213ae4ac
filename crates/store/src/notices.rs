//! Change notices (`latchkey_core::notice`) as the store carries them: one broadcast hub per
//! store, fed on PostgreSQL by a listening connection (`listen.rs`) and on SQLite, which serves
//! one node, directly by the writes. Between nodes a notice is a short text on one `NOTIFY`
//! channel: ids only, never a token or a secret.

use std::sync::{Arc, Once};

use latchkey_core::notice::{Change, Notice};
use latchkey_core::user::UserId;
use tokio::sync::{broadcast, watch};

/// The one channel every node listens on.
pub(crate) const CHANNEL: &str = "latchkey";

/// Notices held for a slow listener before it is told it missed some: a burst of revocations
/// fits, and a listener that falls further behind re-reads everything, which is always safe.
const BACKLOG: usize = 1024;

/// Where a store's notices are sent and heard.
pub(crate) struct Hub {
    sender: broadcast::Sender<Notice>,
    listening: Once,
    /// Dropped with the store: its listener (if any) stops, closing its connection.
    alive: watch::Sender<()>,
}

impl Hub {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Hub {
            sender: broadcast::Sender::new(BACKLOG),
            listening: Once::new(),
            alive: watch::Sender::new(()),
        })
    }

    /// A new subscriber; `listen` starts the backend's listener the first time.
    pub(crate) fn subscribe(&self, listen: impl FnOnce(Sender)) -> broadcast::Receiver<Notice> {
        let receiver = self.sender.subscribe();
        self.listening.call_once(|| listen(self.sender()));
        receiver
    }

    /// Sends to this process's subscribers (SQLite's in-process announcements).
    pub(crate) fn send(&self, notice: Notice) {
        let _ = self.sender.send(notice);
    }

    /// A handle a listener sends with, and learns from that the store is gone.
    pub(crate) fn sender(&self) -> Sender {
        Sender {
            sender: self.sender.clone(),
            alive: self.alive.subscribe(),
        }
    }
}

/// What a listener holds.
pub(crate) struct Sender {
    pub(crate) sender: broadcast::Sender<Notice>,
    pub(crate) alive: watch::Receiver<()>,
}

impl Sender {
    /// Sends to whoever listens now; none listening is not an error.
    pub(crate) fn send(&self, notice: Notice) {
        let _ = self.sender.send(notice);
    }
}

/// The text a change travels as.
pub(crate) fn encode(change: &Change) -> String {
    match change {
        Change::Revocations => "revocations".to_owned(),
        Change::User(id) => format!("user:{}", id.0),
        Change::Client(id) => format!("client:{id}"),
        Change::Keys => "keys".to_owned(),
        Change::Authz => "authz".to_owned(),
        Change::Everything => "everything".to_owned(),
    }
}

/// A notice from its text. Text this version does not know (a newer node's) could be any
/// change, so it counts as missed notices: re-reading everything is always right.
pub(crate) fn decode(text: &str) -> Notice {
    let change = match text.split_once(':') {
        None => match text {
            "revocations" => Some(Change::Revocations),
            "keys" => Some(Change::Keys),
            "authz" => Some(Change::Authz),
            "everything" => Some(Change::Everything),
            _ => None,
        },
        Some(("user", id)) => id.parse().ok().map(|id| Change::User(UserId(id))),
        Some(("client", id)) if !id.is_empty() => Some(Change::Client(id.to_owned())),
        Some(_) => None,
    };
    change.map_or(Notice::Missed, Notice::Change)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_survives_the_trip() {
        for change in [
            Change::Revocations,
            Change::User(UserId(42)),
            Change::Client("mobile:app".into()),
            Change::Keys,
            Change::Authz,
            Change::Everything,
        ] {
            assert_eq!(decode(&encode(&change)), Notice::Change(change));
        }
    }

    #[test]
    fn unknown_text_means_missed_notices() {
        for text in ["", "sessions", "user:", "user:x", "client:", "keys:1"] {
            assert_eq!(decode(text), Notice::Missed, "{text:?}");
        }
    }
}
