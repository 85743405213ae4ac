//! The storage the domain needs, defined here by the code that uses it (Hydra/fosite style) and
//! implemented by `latchkey-store` for SQLite and PostgreSQL. Every method is one intent; whatever
//! must be atomic is one method, and a lost race is a typed answer, never a silent success.

use async_trait::async_trait;
use latchkey_token::Algorithm;

use crate::client::Client;
use crate::secret::TokenHash;
use crate::throttle::Outcome;
use crate::user::{User, UserId};

/// One Open edX AuthZ rule in `casbin_rule` shape (`ptype`, `v0`..`v5`).
pub use latchkey_authz::RuleRow;
/// The revocation feed's entries, as they go over the wire.
pub use latchkey_proto::{NotBefore, RevokedJti};

/// What a unique constraint refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("a user with this username already exists")]
    Username,
    #[error("a user with this email already exists")]
    Email,
    #[error("a client with this client id already exists")]
    ClientId,
    #[error("this owner already has a client with this name")]
    ClientName,
    #[error("another signing key became current at the same time")]
    CurrentKey,
    #[error("a user with this anonymous id (sub) already exists")]
    Subject,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The row a write must change is not there (for a look-up, the answer is `None` instead).
    #[error("{0} not found")]
    NotFound(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database did not answer: down, restarting, unreachable, or every connection busy
    /// for too long. Nothing was done; the same request may succeed a moment later.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A user row about to be inserted (the domain has validated every field).
#[derive(Clone, Debug)]
pub struct NewUserRow {
    pub username: String,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub email_verified: bool,
    pub sub: String,
    pub created_at: i64,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn insert_user(&self, row: &NewUserRow) -> Result<User, StoreError>;
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// By the username exactly as given, else by its NFKC form, else by email compared by
    /// [`crate::user::email_key`]: the order of [`crate::user::LoginKeys`].
    async fn user_by_login(&self, login: &str) -> Result<Option<User>, StoreError>;
    /// Returns false when there is no such user. Disabling also cuts the user off as of `now`
    /// ([`UserStore::cut_off_user`]), so that enabling them again brings nothing old back.
    async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Ends every session, refresh family, opaque access token and unredeemed authorization code
    /// of the user, and refuses every JWT of theirs issued before `at` or in its second (the
    /// revocation feed's not-before instant is `at + 1`); with `password_hash`, replaces the
    /// password in the same transaction (a password change). Returns false when there is no such
    /// user.
    async fn cut_off_user(
        &self,
        username: &str,
        at: i64,
        password_hash: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Replaces `old` with `new` only if `old` is still stored, so an upgrade on sign-in never
    /// overwrites a password change made meanwhile.
    async fn replace_password_hash(
        &self,
        id: UserId,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError>;
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// How many users have a password, how many of those hashes are Django's, and one Django
    /// hash's iteration count: what a decoy for an unknown login should cost.
    async fn password_mix(&self) -> Result<PasswordMix, StoreError>;
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PasswordMix {
    pub with_password: u64,
    pub django: u64,
    pub django_iterations: Option<u32>,
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn insert_client(&self, client: &Client) -> Result<(), StoreError>;
    /// Replaces every field of the client with this id.
    async fn update_client(&self, client: &Client) -> Result<(), StoreError>;
    async fn client_by_id(&self, id: &str) -> Result<Option<Client>, StoreError>;
    async fn client_by_name(&self, owner: UserId, name: &str)
        -> Result<Option<Client>, StoreError>;
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Replaces a Django-hashed secret with the keyed hash of the same secret, only if `django`
    /// is still stored (compare-and-swap); false when it was not.
    async fn upgrade_client_secret(
        &self,
        id: &str,
        django: &str,
        keyed: &TokenHash,
    ) -> Result<bool, StoreError>;
    /// The longest per-client JWT lifetime, if any client overrides the global one: retired
    /// signing keys stay published at least this long.
    async fn max_client_jwt_lifetime(&self) -> Result<Option<i64>, StoreError>;
}

/// A signing key's place in its life: published before it signs, published after it stops, and
/// withdrawn for good when it leaked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    Next,
    Current,
    Retired,
    /// Neither published nor trusted, and its private part is wiped; kept as a record.
    Revoked,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retired => "retired",
            KeyState::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<KeyState> {
        match s {
            "next" => Some(KeyState::Next),
            "current" => Some(KeyState::Current),
            "retired" => Some(KeyState::Retired),
            "revoked" => Some(KeyState::Revoked),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct StoredKey {
    pub kid: String,
    pub alg: Algorithm,
    pub state: KeyState,
    /// PKCS#8, sealed with the key-encryption key (AES-256-GCM, the kid as associated data).
    pub sealed_private: Vec<u8>,
    pub created_at: i64,
    /// When a retired key stopped signing, or when a revoked key was revoked.
    pub retired_at: Option<i64>,
}

/// What [`KeyStore::revoke_key`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRevocation {
    Revoked,
    AlreadyRevoked,
    /// Refused: the current key signs, and nothing would take over.
    Current,
    Unknown,
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError>;
    /// A key inserted as `Current` conflicts with an existing current key (`Conflict::CurrentKey`).
    async fn insert_key(&self, key: &StoredKey) -> Result<(), StoreError>;
    /// In one step: the current key (if any) retires at `now`, and `kid` becomes current. A revoked
    /// `kid` is refused, even when revoked by a racing process.
    async fn promote_key(&self, kid: &str, now: i64) -> Result<(), StoreError>;
    /// Marks a `next` or `retired` key revoked at `now` and wipes its sealed private part, in one
    /// statement, so that a racing promotion cannot make it current.
    async fn revoke_key(&self, kid: &str, now: i64) -> Result<KeyRevocation, StoreError>;
    async fn delete_keys_retired_before(&self, before: i64) -> Result<u64, StoreError>;
}

/// An opaque access token's row, or the record of a JWT kept for a refresh family.
#[derive(Clone, Debug)]
pub struct AccessTokenRow {
    pub hash: TokenHash,
    pub jti: String,
    pub client_id: String,
    pub user_id: UserId,
    pub scopes: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub family_id: Option<String>,
    pub revoked: bool,
}

/// A refresh family: every refresh token descended from one grant.
#[derive(Clone, Debug)]
pub struct Family {
    pub id: String,
    pub client_id: String,
    pub user_id: UserId,
    pub created_at: i64,
    /// The optional absolute limit, whatever the rotations.
    pub expires_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct NewRefresh {
    pub hash: TokenHash,
    pub family_id: String,
    pub scopes: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The access token issued with this refresh token, so revoking the family reaches it.
    pub access_jti: String,
    pub access_expires_at: i64,
}

#[derive(Clone, Debug)]
pub struct RefreshRow {
    pub hash: TokenHash,
    pub family: Family,
    pub family_revoked: bool,
    pub scopes: Vec<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    /// The successor pair, sealed under a key only the presented token derives.
    pub successor: Option<Vec<u8>>,
}

/// What a rotation attempt found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    Rotated,
    /// Someone else rotated (or revoked) this token first; nothing was written.
    Lost,
}

/// Rows the janitor removed in one pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub access_tokens: u64,
    pub refresh_tokens: u64,
    pub families: u64,
    pub revoked_jtis: u64,
}

impl Purged {
    pub fn total(&self) -> u64 {
        self.access_tokens + self.refresh_tokens + self.families + self.revoked_jtis
    }
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn insert_access_token(&self, row: &AccessTokenRow) -> Result<(), StoreError>;
    /// The opaque access token with this hash, and its user.
    async fn access_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(AccessTokenRow, User)>, StoreError>;
    /// Creates the family and its first refresh token (with its opaque access token, if any) at once.
    async fn start_family(
        &self,
        family: &Family,
        first: &NewRefresh,
        access: Option<&AccessTokenRow>,
    ) -> Result<(), StoreError>;
    async fn refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshRow>, StoreError>;
    /// Compare-and-swap: marks `old` rotated (keeping `sealed_successor`) only if it is neither
    /// rotated nor revoked, and in the same transaction stores `next` and `access`.
    async fn rotate_refresh(
        &self,
        old: &TokenHash,
        now: i64,
        sealed_successor: &[u8],
        next: &NewRefresh,
        access: Option<&AccessTokenRow>,
    ) -> Result<Rotation, StoreError>;
    /// Revokes the family, its refresh tokens and every access token issued in it (JWTs by jti).
    async fn revoke_family(&self, family_id: &str, now: i64) -> Result<(), StoreError>;
    async fn revoke_access_token(&self, hash: &TokenHash) -> Result<bool, StoreError>;
    /// Marks a JWT revoked until it would have expired anyway.
    async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<(), StoreError>;
    /// Whether a JWT was revoked: by its `jti`, or by its user's not-before instant (`sub`,
    /// issued at `iat`).
    async fn is_jwt_revoked(&self, jti: &str, sub: &str, iat: i64) -> Result<bool, StoreError>;
    /// Forgets the sealed successor pairs of at most `batch` tokens rotated before `rotated_before`
    /// (their grace window is over); returns how many.
    async fn clear_successors(&self, rotated_before: i64, batch: u32) -> Result<u64, StoreError>;
    /// Removes at most `batch` rows of each kind that can no longer matter at `now`.
    async fn purge_expired(&self, now: i64, batch: u32) -> Result<Purged, StoreError>;
}

/// One entry of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// Who: `client:<client_id>`, `cli:<os user>`, `latchkey`.
    pub actor: String,
    /// What, dotted: `authz.rule.add`, `authz.rule.remove`.
    pub action: String,
    /// To what, as text (for a rule: its policy line).
    pub detail: String,
}

/// Open edX AuthZ rules, their version and the audit trail. Each call that changes rules bumps
/// the version once and writes one audit event per rule it changed, in one transaction; a call that
/// changes nothing writes nothing.
#[async_trait]
pub trait AuthzStore: Send + Sync {
    /// Every rule, in insertion order.
    async fn authz_rules(&self) -> Result<Vec<RuleRow>, StoreError>;
    /// Inserts the rows not already stored (exact match over `ptype`, `v0`..`v5`); returns how
    /// many were inserted.
    async fn add_authz_rules(
        &self,
        rows: &[RuleRow],
        actor: &str,
        now: i64,
    ) -> Result<u64, StoreError>;
    /// Deletes the stored rows equal to these; returns how many were deleted.
    async fn remove_authz_rules(
        &self,
        rows: &[RuleRow],
        actor: &str,
        now: i64,
    ) -> Result<u64, StoreError>;
    /// 0 until the rules are first written; then bumped by every change, and by the creation of
    /// a staff or superuser account (the staff bypass decides too), in the same transaction.
    async fn authz_version(&self) -> Result<i64, StoreError>;
    /// Usernames and emails of staff and superusers, disabled or not (openedx-authz's
    /// `is_staff_or_superuser` looks users up by either).
    async fn staff_keys(&self) -> Result<Vec<String>, StoreError>;
    /// The newest `limit` audit events, newest first.
    async fn audit_events(&self, limit: u32) -> Result<Vec<AuditEvent>, StoreError>;
}

/// A browser session's row: found by the keyed hash of its cookie value, never by the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub hash: TokenHash,
    pub user_id: UserId,
    /// When the user's credentials were last checked (OIDC `auth_time`).
    pub auth_time: i64,
    pub created_at: i64,
    /// The absolute end, however active the session is.
    pub expires_at: i64,
    /// The end unless the session is used again; `None` for a remembered session, which has
    /// only its absolute end.
    pub idle_expires_at: Option<i64>,
}

/// Browser sessions (the `sessionid` cookie). Rows are ended one by one, per user, or by the
/// janitor once past either end.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn insert_session(&self, row: &SessionRow) -> Result<(), StoreError>;
    /// The session with this hash and its user, whatever their state: the caller decides.
    async fn session(&self, hash: &TokenHash) -> Result<Option<(SessionRow, User)>, StoreError>;
    /// Moves the idle end forward to `idle_expires_at` (never back, never for a remembered
    /// session); returns false when nothing moved.
    async fn touch_session(
        &self,
        hash: &TokenHash,
        idle_expires_at: i64,
    ) -> Result<bool, StoreError>;
    /// Returns false when there was no such session.
    async fn delete_session(&self, hash: &TokenHash) -> Result<bool, StoreError>;
    /// The user's sessions, ended or not, oldest first.
    async fn user_sessions(&self, user: UserId) -> Result<Vec<SessionRow>, StoreError>;
    /// Ends every session of the user; returns how many there were.
    async fn delete_user_sessions(&self, user: UserId) -> Result<u64, StoreError>;
    /// Removes at most `batch` sessions past either end at `now`; returns how many.
    async fn purge_expired_sessions(&self, now: i64, batch: u32) -> Result<u64, StoreError>;
}

/// An authorization code as stored (RFC 6749 §4.1.2): its keyed hash, never the code, and
/// everything it was issued for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRow {
    pub hash: TokenHash,
    pub client_id: String,
    pub user_id: UserId,
    /// The `redirect_uri` of the authorization request; the exchange must repeat it.
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// The PKCE S256 challenge (RFC 7636 §4.2), when the request carried one.
    pub code_challenge: Option<String>,
    /// OpenID Connect: copied into the ID token.
    pub nonce: Option<String>,
    /// When the user signed in, unix seconds.
    pub auth_time: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    /// When it was exchanged: a later presentation is a replay.
    pub used_at: Option<i64>,
    /// The refresh family the exchange started, which a replay revokes.
    pub family_id: Option<String>,
}

/// The scopes a user granted a client, remembered so that the consent page is not shown again
/// for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    pub user_id: UserId,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub granted_at: i64,
}

/// Authorization codes and remembered consent (RFC 6749 §4.1).
#[async_trait]
pub trait AuthorizationStore: Send + Sync {
    async fn insert_code(&self, row: &CodeRow) -> Result<(), StoreError>;
    /// The code with this hash, used or not, expired or not.
    async fn code(&self, hash: &TokenHash) -> Result<Option<CodeRow>, StoreError>;
    /// The code with this hash, as [`Self::code`], and its user if that user still exists: what
    /// an exchange needs, in one round trip.
    async fn code_and_user(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<(CodeRow, Option<User>)>, StoreError>;
    /// Compare-and-swap: marks the code used at `now` by `family`, only if it is unused and
    /// unexpired, and in the same transaction starts that family (as
    /// [`TokenStore::start_family`]); false, and nothing written, when it was not (another
    /// exchange won, or it expired).
    async fn redeem_code(
        &self,
        hash: &TokenHash,
        now: i64,
        family: &Family,
        first: &NewRefresh,
        access: Option<&AccessTokenRow>,
    ) -> Result<bool, StoreError>;
    /// Removes at most `batch` codes that expired before `expired_before`; returns how many.
    async fn purge_codes(&self, expired_before: i64, batch: u32) -> Result<u64, StoreError>;
    async fn consent(&self, user: UserId, client_id: &str) -> Result<Option<Consent>, StoreError>;
    /// Creates the user's consent for the client, or replaces the one stored.
    async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError>;
    /// Forgets the user's consent for the client; false when there was none.
    async fn revoke_consent(&self, user: UserId, client_id: &str) -> Result<bool, StoreError>;
    /// Every client the user consented to, by client id.
    async fn consents(&self, user: UserId) -> Result<Vec<Consent>, StoreError>;
}

/// What an imported row was made from: its upstream key and a digest of each field, so that a
/// later import of the same source can tell what changed upstream from what changed here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportOrigin {
    /// The kind of row (`user`, `client`): keys are unique per source and kind.
    pub kind: &'static str,
    pub key: String,
    /// Field digests in the importer's own encoding; the store keeps them as they are.
    pub digests: String,
}

/// Which of an imported user's fields a re-import writes: those that changed upstream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserFields {
    pub username: bool,
    pub email: bool,
    /// `name`, `given_name` and `family_name`.
    pub names: bool,
    pub password: bool,
    /// `is_staff` and `is_superuser`.
    pub flags: bool,
    pub email_verified: bool,
    pub sub: bool,
}

/// A user row of an import: the id it had upstream, and its names as the source splits them.
#[derive(Clone, Debug)]
pub struct ImportedUser {
    pub id: UserId,
    pub row: NewUserRow,
    pub given_name: String,
    pub family_name: String,
}

/// One write of an import. Users and clients come with their origin, recorded in the same
/// transaction; tokens are keyed by their hash, and one already stored is left as it is.
#[derive(Clone, Debug)]
pub enum ImportWrite {
    NewUser(ImportedUser, ImportOrigin),
    /// A user an earlier import made: only `fields` are written.
    UserChanges(ImportedUser, UserFields, ImportOrigin),
    NewClient(Client, ImportOrigin),
    /// A client an earlier import made: every imported field is written, the secret only when
    /// `secret` (it changed upstream); its permissions stay as they are here.
    ClientChanges {
        client: Client,
        secret: bool,
        origin: ImportOrigin,
    },
    /// A live refresh token: the start of its own family.
    Refresh(Family, NewRefresh),
    AccessToken(AccessTokenRow),
}

/// What an import sends the store: batches of writes, then `End` to say that nothing is
/// missing. A channel closed before `End` (the importer failed) rolls everything back.
#[derive(Clone, Debug)]
pub enum ImportStep {
    Write(Vec<ImportWrite>),
    End,
}

/// What [`ImportStore::apply_import`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportApplied {
    /// Refresh tokens and access tokens not already stored.
    pub new_refresh_tokens: u64,
    pub new_access_tokens: u64,
}

/// Imports from another system (an Open edX LMS): rows keep their upstream ids, and each records
/// where it came from.
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Users no import from `source` made: an import must not take their ids, usernames or
    /// emails.
    async fn native_users(&self, source: &str) -> Result<Vec<User>, StoreError>;
    /// The recorded digests of the rows of this kind with these keys, as (key, digests).
    async fn import_origins(
        &self,
        source: &str,
        kind: &str,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Applies every batch received, in order, in one transaction, committed at [`ImportStep::End`]
    /// when `commit`, else rolled back (a dry run). Whether several calls or one: the importer's
    /// choice (one per batch, or one for a whole `--strict` import). Users created afterwards
    /// never take an imported id; a staff or superuser account created or changed moves the
    /// authz rules version once.
    async fn apply_import(
        &self,
        source: &str,
        now: i64,
        steps: tokio::sync::mpsc::Receiver<ImportStep>,
        commit: bool,
    ) -> Result<ImportApplied, StoreError>;
}

/// A page of the revocation feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevocationPage {
    /// The feed's head when the page was read: every entry numbered up to it had committed.
    pub head: i64,
    /// Where a reader continues from: the last entry's number, or the head when nothing is left.
    pub cursor: i64,
    pub jtis: Vec<RevokedJti>,
    pub users: Vec<NotBefore>,
    /// More entries are numbered above `cursor`.
    pub more: bool,
}

impl RevocationPage {
    pub fn is_empty(&self) -> bool {
        self.jtis.is_empty() && self.users.is_empty()
    }
}

/// The revocation feed (docs/design/revocation-feed.md): revoked JWTs and users' not-before
/// instants, each numbered by the transaction that wrote it, in commit order.
#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// The number of the latest committed entry.
    async fn revocation_head(&self) -> Result<i64, StoreError>;
    /// The entries numbered above `after`, oldest first: about `limit` of them, never splitting
    /// the entries of one transaction across pages.
    async fn revocations_after(&self, after: i64, limit: u32)
        -> Result<RevocationPage, StoreError>;
    /// Removes at most `batch` not-before instants older than `before` (no token issued before
    /// them can still be alive); returns how many.
    async fn purge_not_before(&self, before: i64, batch: u32) -> Result<u64, StoreError>;
}

/// One counter an attempt is taken from: its key (`throttle::AccountKey::counter_key`,
/// `throttle::Network::counter_key`) and how many attempts its window allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptLimit {
    pub key: Vec<u8>,
    pub limit: u32,
}

/// A counter's window as one step left it: whether that step took an attempt, when the window
/// started, its attempts (finished failures and those in flight), and of those the ones in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptWindow {
    pub taken: bool,
    pub started: i64,
    pub attempts: u32,
    pub in_flight: u32,
}

/// What [`AttemptStore::take_attempt`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    /// The network's counter refused; the account's was not touched.
    NetworkRefused(AttemptWindow),
    /// The account's counter answered, after the network's (if any) took its attempt.
    Account {
        network: Option<AttemptWindow>,
        account: AttemptWindow,
    },
}

/// One counter's share of an attempt that ends: the window it was taken in, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptEnd {
    pub key: Vec<u8>,
    pub started: i64,
    pub outcome: Outcome,
}

/// Password attempt counters in the database that every node shares, so that nodes together allow
/// each limit once (`throttle/shared.rs`; the in-process counters of `throttle/local.rs` follow the
/// same rules). Each method is one atomic statement per counter.
#[async_trait]
pub trait AttemptStore: Send + Sync {
    /// Takes one attempt from the network's counter, if given, then, unless that refused, from the
    /// account's. A counter with no window, or one that started `window` seconds or more before
    /// `now`, starts an empty one at `now`; a counter holding `limit` attempts refuses and is left
    /// as it is. The network's counter is changed first, as in [`AttemptStore::end_attempt`], so
    /// that two steps never wait for each other's counters.
    async fn take_attempt(
        &self,
        network: Option<&AttemptLimit>,
        account: &AttemptLimit,
        now: i64,
        window: i64,
    ) -> Result<Taken, StoreError>;
    /// Ends an attempt in each counter given, if the window it was taken in is still the
    /// counter's: one fewer in flight, and [`Outcome::GivenBack`] one fewer attempt,
    /// [`Outcome::Forgiven`] no attempts but those still in flight.
    async fn end_attempt(
        &self,
        network: Option<&AttemptEnd>,
        account: Option<&AttemptEnd>,
    ) -> Result<(), StoreError>;
    /// Removes at most `batch` counters whose window started at or before `started_before`;
    /// returns how many.
    async fn purge_attempt_windows(
        &self,
        started_before: i64,
        batch: u32,
    ) -> Result<u64, StoreError>;
}

/// Everything Latchkey stores.
#[async_trait]
pub trait Store:
    UserStore
    + ClientStore
    + KeyStore
    + TokenStore
    + AuthzStore
    + SessionStore
    + AuthorizationStore
    + ImportStore
    + RevocationStore
    + 'static
{
    /// Is the database reachable and answering?
    async fn ping(&self) -> Result<(), StoreError>;
    /// The change notices every node hears, its own changes' included (`crate::notice`).
    fn notices(&self) -> tokio::sync::broadcast::Receiver<crate::notice::Notice>;
}
