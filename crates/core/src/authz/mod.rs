//! Open edX AuthZ as a service: the rules live in the database ([`AuthzStore`]), each node holds
//! them as a [`CachedEngine`] and answers checks from memory in microseconds.
//!
//! * Every change to the rules bumps a version in the database. A change made here applies to
//!   this node at once (an assignment in place, anything else by a rebuild); other nodes see the
//!   version move at their next [`AuthzService::reload_if_changed`] (the janitor calls it every
//!   interval) and rebuild.
//! * Staff and superusers (openedx-authz's `is_staff_or_superuser`) come from an in-memory set of
//!   their usernames and emails, refreshed at every reload; the engine's cache never holds a staff
//!   answer, so a refresh applies at once.
//! * The loaded version is also a change feed ([`AuthzService::version_after`]): remote caches
//!   (the guard's) long-poll it and drop their decisions when it moves. A new staff or superuser
//!   account moves the version as well (the store bumps it with the account), so remote caches
//!   learn of it like of a rule change.
//! * A database whose rules were never written (version 0) gets openedx-authz's default policy,
//!   its `p` and `g2` lines, so the roles work out of the box.
//!
//! * What a client may do through the HTTP API is decided here as well ([`access`]): reading needs
//!   the `authz:read` permission, changing assignments `authz:write`.
//!
//! See `docs/design/authz-service.md`.

pub mod access;
pub mod import;
pub mod rule;

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use latchkey_authz::{
    AuthzError, CachedEngine, Decision, DirectoryError, Engine, LineError, Model, ModelError,
    Policy, PolicyError, Request, RequestError, RuleRow, Settings, StaffDirectory, StaffSet,
    OPENEDX_MODEL, OPENEDX_POLICY,
};

use crate::store::{AuthzStore, StoreError};
use rule::{canonical, line, RoleAssignment, RuleError};

/// Changes up to this many assignments are applied to the running engine in place; larger ones
/// (imports) rebuild it, which is cheaper than clearing the cache once per assignment and keeps
/// the write lock short.
const IN_PLACE_MAX: usize = 1000;

/// Who wrote the default policy, in the audit trail.
const SEED_ACTOR: &str = "latchkey:default-policy";

#[derive(Clone, Copy, Debug)]
pub struct AuthzSettings {
    /// Domain matching, upstream's staff-versus-deny behaviour: see `latchkey_authz::Settings`.
    pub engine: Settings,
    /// Decisions kept in the cache (at most about twice this many entries).
    pub cache_capacity: usize,
    /// Load openedx-authz's default policy into a database whose rules were never written.
    pub default_policy: bool,
}

impl Default for AuthzSettings {
    fn default() -> Self {
        AuthzSettings {
            engine: Settings::default(),
            cache_capacity: 100_000,
            default_policy: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthzServiceError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("rule {index}: {reason}")]
    ImportRule { index: usize, reason: RuleError },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored authz rule {rule:?} cannot be loaded: {reason}")]
    StoredRule { rule: String, reason: LineError },
    #[error("the built-in openedx-authz model or policy does not load: {0}")]
    Builtin(String),
    #[error("a blocking task failed: {0}")]
    Blocking(String),
}

impl AuthzServiceError {
    /// Whether the caller's input is at fault (as opposed to the database or this server).
    pub fn is_input(&self) -> bool {
        matches!(self, Self::Rule(_) | Self::ImportRule { .. })
    }
}

/// How many rules an import added, and how many of its (distinct) rules were already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Imported {
    pub added: u64,
    pub present: u64,
}

/// Assignments to list; `None` matches anything.
#[derive(Clone, Debug, Default)]
pub struct AssignmentFilter {
    pub subject: Option<String>,
    pub role: Option<String>,
    pub scope: Option<String>,
}

/// Scopes where a subject holds an action through its roles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scopes {
    /// In assignment order; `*` when a global assignment grants it.
    pub scopes: Vec<String>,
    /// The subject is staff or superuser: it also holds the action in every `lib^` and
    /// `course-v1^` scope where no deny line applies to it.
    pub staff: bool,
}

pub struct AuthzService<S> {
    store: Arc<S>,
    model: Model,
    settings: AuthzSettings,
    staff: SharedStaff,
    current: RwLock<Loaded>,
    /// One writer or reloader at a time on this node, so versions are applied in order.
    sync: tokio::sync::Mutex<()>,
    /// The change feed: the version loaded here, sent whenever it moves, so that long polls
    /// (`GET /authz/v1/changes`) wake at once instead of polling the lock.
    feed: tokio::sync::watch::Sender<FeedState>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FeedState {
    version: i64,
    /// Set at shutdown: waiting polls answer now, so a graceful shutdown does not wait for them.
    closing: bool,
}

struct Loaded {
    engine: CachedEngine,
    /// The database version these rules are.
    version: i64,
}

impl<S: AuthzStore + 'static> AuthzService<S> {
    /// Loads the rules (first writing the default policy into a new database, if enabled).
    pub async fn load(
        store: Arc<S>,
        settings: AuthzSettings,
        now: i64,
    ) -> Result<Self, AuthzServiceError> {
        let model = Model::parse(OPENEDX_MODEL)
            .map_err(|e: ModelError| AuthzServiceError::Builtin(e.to_string()))?;
        let staff = SharedStaff::default();
        let empty = Engine::new(&model, Policy::default(), settings.engine, staff.clone());
        let service = AuthzService {
            store,
            model,
            settings,
            staff,
            current: RwLock::new(Loaded {
                engine: CachedEngine::new(empty, 1),
                version: -1,
            }),
            sync: tokio::sync::Mutex::new(()),
            feed: tokio::sync::watch::Sender::new(FeedState {
                version: -1,
                closing: false,
            }),
        };
        service.reload_if_changed(now).await?;
        Ok(service)
    }

    /// Refreshes the staff set, and rebuilds the engine if the rules changed in the database since
    /// they were loaded here. `Ok(true)` when it rebuilt.
    pub async fn reload_if_changed(&self, now: i64) -> Result<bool, AuthzServiceError> {
        let _sync = self.sync.lock().await;
        let mut version = self.store.authz_version().await?;
        if version == 0 && self.settings.default_policy {
            self.seed(now).await?;
            version = self.store.authz_version().await?;
        }
        if version == self.read().version {
            self.refresh_staff().await?;
            return Ok(false);
        }
        self.rebuild().await?;
        Ok(true)
    }

    /// The decision for one request. An input openedx-authz rejects is an error, never a guess.
    pub fn check(&self, subject: &str, action: &str, scope: &str) -> Result<Decision, AuthzError> {
        self.check_at(subject, action, scope).map(|(d, _)| d)
    }

    /// [`check`](Self::check), with the version of the rules the decision was made at (what a
    /// remote cache labels the answer with).
    pub fn check_at(
        &self,
        subject: &str,
        action: &str,
        scope: &str,
    ) -> Result<(Decision, i64), AuthzError> {
        let request = Request::new(subject, action, scope)?;
        let loaded = self.read();
        Ok((loaded.engine.check(&request)?, loaded.version))
    }

    /// Decisions for many requests against one version of the rules (returned with them); the
    /// first invalid request fails the batch (with its index).
    pub fn check_batch<'a>(
        &self,
        requests: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> Result<(Vec<Decision>, i64), (usize, AuthzError)> {
        let loaded = self.read();
        let decisions = requests
            .into_iter()
            .enumerate()
            .map(|(i, (subject, action, scope))| {
                Request::new(subject, action, scope)
                    .map_err(AuthzError::from)
                    .and_then(|r| loaded.engine.check(&r))
                    .map_err(|e| (i, e))
            })
            .collect::<Result<_, _>>()?;
        Ok((decisions, loaded.version))
    }

    /// The change feed: this node's loaded version once it differs from `after`, or, when it
    /// does not within `wait`, the (same) version then. A local change or a reload (the
    /// janitor's) wakes waiting callers at once. At shutdown ([`close_feed`](Self::close_feed))
    /// every waiting caller answers at once.
    pub async fn version_after(&self, after: i64, wait: Duration) -> i64 {
        let mut feed = self.feed.subscribe();
        // Whether it timed out or the state moved, the answer is the version now.
        let _ =
            tokio::time::timeout(wait, feed.wait_for(|s| s.version != after || s.closing)).await;
        let state = *feed.borrow();
        state.version
    }

    /// Ends the waits of [`version_after`](Self::version_after), now and later: called when the
    /// server shuts down, so that long polls do not hold up a graceful shutdown.
    pub fn close_feed(&self) {
        self.feed.send_modify(|s| s.closing = true);
    }

    /// The scopes where `subject` holds `action` through its roles (for list endpoints).
    pub fn scopes_for(&self, subject: &str, action: &str) -> Result<Scopes, RequestError> {
        let Some((_, user_key)) = subject.split_once('^') else {
            return Err(RequestError::SubjectNotNamespaced {
                subject: subject.to_owned(),
            });
        };
        let scopes = self.read().engine.engine().scopes_for(subject, action);
        let staff = self.staff.is_staff_or_superuser(user_key).unwrap_or(false);
        Ok(Scopes { scopes, staff })
    }

    /// Assigns `role` to `subject` in `scope`; `Ok(false)` if it already was.
    pub async fn assign(
        &self,
        assignment: &RoleAssignment,
        actor: &str,
        now: i64,
    ) -> Result<bool, AuthzServiceError> {
        let rows = [assignment.row()];
        Ok(self.change(&rows, true, actor, now).await? > 0)
    }

    /// Removes the assignment; `Ok(false)` if there was none.
    pub async fn unassign(
        &self,
        assignment: &RoleAssignment,
        actor: &str,
        now: i64,
    ) -> Result<bool, AuthzServiceError> {
        let rows = [assignment.row()];
        Ok(self.change(&rows, false, actor, now).await? > 0)
    }

    /// Role assignments, from the database, in assignment order.
    pub async fn assignments(
        &self,
        filter: &AssignmentFilter,
    ) -> Result<Vec<RoleAssignment>, AuthzServiceError> {
        let matches = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        Ok(self
            .store
            .authz_rules()
            .await?
            .iter()
            .filter_map(RoleAssignment::from_row)
            .filter(|a| {
                matches(&filter.subject, &a.subject)
                    && matches(&filter.role, &a.role)
                    && matches(&filter.scope, &a.scope)
            })
            .collect())
    }

    /// Adds rules read from Open edX (`casbin_rule` rows, or rows from [`import::parse_import`]),
    /// each read as openedx-authz reads it; all or nothing.
    pub async fn import_rows(
        &self,
        rows: &[RuleRow],
        actor: &str,
        now: i64,
    ) -> Result<Imported, AuthzServiceError> {
        let mut seen = HashSet::new();
        let mut distinct = Vec::new();
        for (index, raw) in rows.iter().enumerate() {
            let read =
                canonical(raw).map_err(|reason| AuthzServiceError::ImportRule { index, reason })?;
            if let Some(row) = read {
                if seen.insert(line(&row)) {
                    distinct.push(row);
                }
            }
        }
        let added = self.change(&distinct, true, actor, now).await?;
        Ok(Imported {
            added,
            present: distinct.len() as u64 - added,
        })
    }

    /// The database version of the rules this node holds.
    pub fn version(&self) -> i64 {
        self.read().version
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// Writes canonical rows, then brings this node up to date: in place when the only change
    /// since the loaded version is this one and it touches a few assignments only, else by a
    /// rebuild.
    async fn change(
        &self,
        rows: &[RuleRow],
        add: bool,
        actor: &str,
        now: i64,
    ) -> Result<u64, AuthzServiceError> {
        let _sync = self.sync.lock().await;
        let changed = if add {
            self.store.add_authz_rules(rows, actor, now).await?
        } else {
            self.store.remove_authz_rules(rows, actor, now).await?
        };
        if changed == 0 {
            return Ok(0);
        }
        let after = self.store.authz_version().await?;
        let assignments: Option<Vec<RoleAssignment>> = if rows.len() <= IN_PLACE_MAX {
            rows.iter().map(RoleAssignment::from_row).collect()
        } else {
            None
        };
        {
            let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
            if let (Some(assignments), true) = (&assignments, after == current.version + 1) {
                for a in assignments {
                    if add {
                        current.engine.add_grouping(&a.subject, &a.role, &a.scope);
                    } else {
                        current
                            .engine
                            .remove_grouping(&a.subject, &a.role, &a.scope);
                    }
                }
                current.version = after;
                self.publish(after);
                return Ok(changed);
            }
        }
        self.rebuild().await?;
        Ok(changed)
    }

    /// Reads the version, then the rules and the staff set (so a change in between only causes
    /// another rebuild later, never a stale engine or staff set labelled new: a new staff account
    /// moves the version too), builds the engine off the async threads, swaps.
    async fn rebuild(&self) -> Result<(), AuthzServiceError> {
        let version = self.store.authz_version().await?;
        let rows = self.store.authz_rules().await?;
        self.refresh_staff().await?;
        let model = self.model.clone();
        let settings = self.settings;
        let staff = self.staff.clone();
        let engine = tokio::task::spawn_blocking(move || {
            let mut policy = Policy::default();
            policy.extend_rule_rows(&rows).map_err(|e| match e {
                PolicyError::Row { row, reason } => AuthzServiceError::StoredRule {
                    rule: rows.get(row).map(line).unwrap_or_default(),
                    reason,
                },
                other => AuthzServiceError::Builtin(other.to_string()),
            })?;
            let engine = Engine::new(&model, policy, settings.engine, staff);
            Ok::<_, AuthzServiceError>(CachedEngine::new(engine, settings.cache_capacity))
        })
        .await
        .map_err(|e| AuthzServiceError::Blocking(e.to_string()))??;
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        *current = Loaded { engine, version };
        self.publish(version);
        tracing::info!(version, "authz rules loaded");
        Ok(())
    }

    async fn refresh_staff(&self) -> Result<(), AuthzServiceError> {
        let keys = self.store.staff_keys().await?;
        self.staff.0.store(Arc::new(StaffSet::new(keys)));
        Ok(())
    }

    /// openedx-authz's default `p` and `g2` lines. Nodes starting together may race here: the
    /// rows are unique, so the loser inserts nothing and bumps nothing.
    async fn seed(&self, now: i64) -> Result<(), AuthzServiceError> {
        let policy = Policy::parse_csv(OPENEDX_POLICY)
            .map_err(|e| AuthzServiceError::Builtin(e.to_string()))?;
        let rows = rule::rows_of(policy);
        let added = self.store.add_authz_rules(&rows, SEED_ACTOR, now).await?;
        if added > 0 {
            tracing::info!(rules = added, "openedx-authz default policy loaded");
        }
        Ok(())
    }

    /// Tells the feed that this node now holds `version`. Called under the write lock, so a
    /// woken poll never answers a version that checks here do not yet use.
    fn publish(&self, version: i64) {
        self.feed.send_if_modified(|s| {
            let moved = s.version != version;
            s.version = version;
            moved
        });
    }

    fn read(&self) -> RwLockReadGuard<'_, Loaded> {
        self.current.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The staff directory the engine asks: swapped whole at each reload.
#[derive(Clone, Default)]
struct SharedStaff(Arc<ArcSwap<StaffSet>>);

impl StaffDirectory for SharedStaff {
    fn is_staff_or_superuser(&self, user_key: &str) -> Result<bool, DirectoryError> {
        self.0.load().is_staff_or_superuser(user_key)
    }
}
