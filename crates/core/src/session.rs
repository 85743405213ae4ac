//! Browser sessions, as Django's `sessionid`: a random value in a cookie, its keyed hash in the
//! store. A session starts from a proof that the user just authenticated ([`Authenticated`]), so
//! nothing here checks a password. "Remember me" gives a session that lasts its whole absolute
//! lifetime; otherwise the cookie lives as long as the browser and the server ends the session
//! after an idle period. `docs/design/browser-sessions.md` says why the limits are what they are.

use std::sync::Arc;

use crate::random::{secret_token, Random};
use crate::secret::{Secret, SecretHasher, TokenHash};
use crate::signin::SignedIn;
use crate::store::{SessionRow, SessionStore, StoreError};
use crate::user::{User, UserId};

/// How long sessions last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionSettings {
    /// A browser-session cookie's session ends after this many seconds unused.
    pub idle: i64,
    /// A remembered session's lifetime, and every session's absolute limit, in seconds.
    pub remember: i64,
    /// The idle end is moved forward at most this often (seconds), so that a busy session is not
    /// one database write per request; it may end this much earlier than `idle` says.
    pub touch_interval: i64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            idle: 2 * 3600,
            remember: 14 * 24 * 3600,
            touch_interval: 60,
        }
    }
}

/// Who a new session is for, and when they proved it. Made from a password sign-in
/// ([`Authenticated::signed_in`]) or, inside core, from a token that proves a password sign-in.
#[derive(Debug)]
pub struct Authenticated {
    user: User,
    auth_time: i64,
}

impl Authenticated {
    /// The user of a password sign-in that just succeeded at `now`.
    pub fn signed_in(proof: SignedIn, now: i64) -> Self {
        Authenticated {
            user: proof.into_user(),
            auth_time: now,
        }
    }

    /// Only core's own checks (the WebView token exchange) make one otherwise.
    pub(crate) fn by_token(user: User, auth_time: i64) -> Self {
        Authenticated { user, auth_time }
    }

    pub fn user(&self) -> &User {
        &self.user
    }
}

/// A session just started: the cookie value to send (once; only its hash is kept) and how long
/// the cookie should live (`None`: until the browser closes).
#[derive(Debug)]
pub struct NewSession {
    pub cookie: Secret,
    pub max_age: Option<i64>,
    pub user: User,
}

/// The live session a cookie names, and its user (enabled).
#[derive(Clone, Debug)]
pub struct CurrentSession {
    pub user: User,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    hash: TokenHash,
}

impl CurrentSession {
    /// The store's key of this session, for ending it.
    pub fn hash(&self) -> &TokenHash {
        &self.hash
    }
}

/// Longer cookie values are never ours (ours are 43 characters): refused before hashing.
const MAX_COOKIE_CHARS: usize = 128;

pub struct Sessions<S> {
    store: Arc<S>,
    hasher: SecretHasher,
    random: Arc<dyn Random>,
    settings: SessionSettings,
}

impl<S: SessionStore> Sessions<S> {
    pub fn new(
        store: Arc<S>,
        hasher: SecretHasher,
        random: Arc<dyn Random>,
        settings: SessionSettings,
    ) -> Self {
        Sessions {
            store,
            hasher,
            random,
            settings,
        }
    }

    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// Starts a session for `who` at `now`: remembered for [`SessionSettings::remember`], or a
    /// browser-session cookie ended after [`SessionSettings::idle`] unused.
    pub async fn start(
        &self,
        who: Authenticated,
        remember: bool,
        now: i64,
    ) -> Result<NewSession, StoreError> {
        let cookie = secret_token(self.random.as_ref());
        let row = SessionRow {
            hash: self.hasher.hash(cookie.expose()),
            user_id: who.user.id,
            auth_time: who.auth_time,
            created_at: now,
            expires_at: now + self.settings.remember,
            idle_expires_at: (!remember).then_some(now + self.settings.idle),
        };
        self.store.insert_session(&row).await?;
        tracing::info!(target: "audit", user_id = who.user.id.0, remember, "session started");
        Ok(NewSession {
            cookie,
            max_age: remember.then_some(self.settings.remember),
            user: who.user,
        })
    }

    /// The live session `cookie` names at `now`, if any: not past either end, and its user not
    /// disabled. Moves the idle end forward when the last move is [`SessionSettings::touch_interval`]
    /// old.
    pub async fn current(
        &self,
        cookie: &str,
        now: i64,
    ) -> Result<Option<CurrentSession>, StoreError> {
        if cookie.is_empty() || cookie.len() > MAX_COOKIE_CHARS {
            return Ok(None);
        }
        let hash = self.hasher.hash(cookie);
        let Some((row, user)) = self.store.session(&hash).await? else {
            return Ok(None);
        };
        let idle_over = row.idle_expires_at.is_some_and(|end| end <= now);
        if row.expires_at <= now || idle_over || user.disabled {
            return Ok(None);
        }
        if let Some(end) = row.idle_expires_at {
            let touched_at = end - self.settings.idle;
            if now - touched_at >= self.settings.touch_interval {
                self.store
                    .touch_session(&hash, now + self.settings.idle)
                    .await?;
            }
        }
        Ok(Some(CurrentSession {
            user,
            auth_time: row.auth_time,
            created_at: row.created_at,
            expires_at: row.expires_at,
            hash,
        }))
    }

    /// Ends the session `cookie` names, live or not; returns whether there was one.
    pub async fn end(&self, cookie: &str) -> Result<bool, StoreError> {
        if cookie.is_empty() || cookie.len() > MAX_COOKIE_CHARS {
            return Ok(false);
        }
        let ended = self.store.delete_session(&self.hasher.hash(cookie)).await?;
        Ok(ended)
    }

    /// The user's sessions, oldest first (for "log out everywhere" and the admin API).
    pub async fn of_user(&self, user: UserId) -> Result<Vec<SessionRow>, StoreError> {
        self.store.user_sessions(user).await
    }

    /// Ends every session of the user; returns how many there were.
    pub async fn end_all(&self, user: UserId) -> Result<u64, StoreError> {
        let n = self.store.delete_user_sessions(user).await?;
        tracing::info!(target: "audit", user_id = user.0, sessions = n, "every session ended");
        Ok(n)
    }
}
