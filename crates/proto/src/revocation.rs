//! The revocation feed: what resource servers read to refuse revoked JWTs and the tokens of
//! disabled users before those tokens expire.
//!
//! `GET /oauth2/revocations?after=CURSOR[&wait=SECONDS]`, as a long poll, for a confidential
//! client granted `revocations:read` (HTTP Basic). Without `after` (or with a cursor the server
//! cannot continue from) the answer is the full current set and says so with `full: true`; the
//! follower then replaces what it holds. Otherwise it carries what was added after the cursor, at
//! once when there is something, else when something arrives or the wait ends (then empty, with
//! the same cursor).

use serde::{Deserialize, Serialize};

/// The query of a poll.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationsQuery {
    /// The cursor of the last answer the caller applied; absent on the first read.
    #[serde(default)]
    pub after: Option<i64>,
    /// How long to wait for something new, in seconds (the server caps it).
    #[serde(default)]
    pub wait: Option<u64>,
}

/// One answer of the feed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocations {
    /// What to send as `after` next.
    pub cursor: i64,
    /// The answer is the whole current set: drop everything held before applying it.
    #[serde(default)]
    pub full: bool,
    /// More is waiting beyond this page: ask again at once.
    #[serde(default)]
    pub more: bool,
    /// Revoked JWTs, each until its own expiry.
    #[serde(default)]
    pub jtis: Vec<RevokedJti>,
    /// Users whose tokens issued before an instant are refused: disabled, password changed, or
    /// logged out everywhere.
    #[serde(default)]
    pub users: Vec<NotBefore>,
}

/// A revoked JWT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedJti {
    /// The token's `jti`.
    pub jti: String,
    /// The token's `exp`: after it the entry is moot and may be dropped.
    pub exp: i64,
}

/// Every token of a user with `iat` before `not_before` is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotBefore {
    /// The user's `sub` claim.
    pub sub: String,
    /// Seconds since the epoch; a token whose `iat` is earlier is refused.
    pub not_before: i64,
}
