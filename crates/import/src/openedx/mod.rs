//! `latchkey import openedx`: an Open edX LMS's `dumpdata` export into Latchkey, in two streaming
//! passes (`docs/design/openedx-migration.md`). The first ([`census`]) validates every row and
//! keeps the few facts the second needs; the second ([`plan`]) turns rows into writes and sends
//! them to the store in batches.

pub mod census;
mod plan;
mod rows;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use latchkey_core::client::Client;
use latchkey_core::scope::ScopeRegistry;
use latchkey_core::secret::SecretHasher;
use latchkey_core::store::{
    AccessTokenRow, Family, ImportApplied, ImportOrigin, ImportStep, ImportWrite, ImportedUser,
    NewRefresh, Store, StoreError,
};
use latchkey_core::user::UserId;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::datetime::unix_seconds;
use crate::digest;
use crate::dumpdata::{Dump, DumpError, Positioned};
use crate::summary::Summary;
use census::{Census, Malformed, Natives};
use plan::{ClientPlan, Owner};
use rows::{Known, Parsed};

/// The `source` every row this importer writes is recorded under.
pub const SOURCE: &str = "openedx";

/// Writes per batch sent to the store.
const BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Dump(#[from] DumpError),
    #[error(
        "--strict: malformed row {} ({}): {}; nothing was written",
        .0.position, .0.model, .0.problem
    )]
    Malformed(Malformed),
    #[error(
        "the database already holds users this export would overwrite; nothing was written:\n  {}",
        .0.join("\n  ")
    )]
    Collisions(Vec<String>),
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
}

/// How an import runs.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Unix seconds: what is live and what has expired is decided at this moment.
    pub now: i64,
    /// The server's refresh-token lifetime, counted from a token's `created`.
    pub refresh_lifetime: i64,
    /// The server's cap on a refresh family's whole life, if any, counted from the same.
    pub family_lifetime: Option<i64>,
    /// The first malformed row stops the import before anything is written, and everything is
    /// written in one transaction.
    pub strict: bool,
    /// Everything is done in one transaction, then rolled back.
    pub dry_run: bool,
}

/// Told how far each pass has come.
pub trait Progress: Send {
    fn pass(&mut self, name: &'static str, total_bytes: u64);
    fn advance(&mut self, read_bytes: u64);
    fn done(&mut self);
}

pub struct OpenEdxImport<S> {
    store: Arc<S>,
    hasher: SecretHasher,
    scopes: ScopeRegistry,
    settings: Settings,
}

impl<S: Store> OpenEdxImport<S> {
    pub fn new(
        store: Arc<S>,
        hasher: SecretHasher,
        scopes: ScopeRegistry,
        settings: Settings,
    ) -> Self {
        OpenEdxImport {
            store,
            hasher,
            scopes,
            settings,
        }
    }

    pub async fn run(
        &self,
        path: &Path,
        progress: &mut dyn Progress,
    ) -> Result<Summary, ImportError> {
        let census = self.census(path, progress).await?;
        let mut second = SecondPass {
            import: self,
            summary: Summary {
                dry_run: self.settings.dry_run,
                malformed: census.malformed.clone(),
                ignored: census.ignored.clone(),
                ..Summary::default()
            },
            census,
            sink: Sink::new(self),
            users: Vec::new(),
            writes: Vec::new(),
            clients: HashMap::new(),
            client_ids: HashSet::new(),
            names: HashSet::new(),
        };
        let mut dump = Dump::open(path)?;
        progress.pass("writing", dump.progress().1);
        while let Some(row) = dump.next().await {
            let Positioned { position, row } = row?;
            if let (Parsed::Known(k), false) =
                (rows::parse(&row), second.census.is_malformed(position))
            {
                second.row(k).await?;
            }
            progress.advance(dump.progress().0);
        }
        second.flush().await?;
        let applied = second.sink.finish().await?;
        progress.done();
        let mut summary = second.summary;
        settle(&mut summary.refresh_tokens, applied.new_refresh_tokens);
        settle(&mut summary.access_tokens, applied.new_access_tokens);
        Ok(summary)
    }

    /// The first pass: every row validated, the facts the second pass needs, and what would stop
    /// the import.
    async fn census(
        &self,
        path: &Path,
        progress: &mut dyn Progress,
    ) -> Result<Census, ImportError> {
        let natives = Natives::new(&self.store.native_users(SOURCE).await?);
        let mut census = Census::default();
        let mut dump = Dump::open(path)?;
        progress.pass("checking", dump.progress().1);
        while let Some(row) = dump.next().await {
            let Positioned { position, row } = row?;
            let model = row.model.clone().unwrap_or_default();
            match rows::parse(&row) {
                Parsed::Known(k) => {
                    if let Err(problem) = census.see(&k, &natives) {
                        census.malformed(position, &model, problem);
                    }
                }
                Parsed::Other(m) => census.ignore(m),
                Parsed::Malformed { model, problem } => census.malformed(position, &model, problem),
            }
            if let (true, Some(first)) = (self.settings.strict, census.malformed.first()) {
                return Err(ImportError::Malformed(first.clone()));
            }
            progress.advance(dump.progress().0);
        }
        progress.done();
        if !census.collisions.is_empty() {
            return Err(ImportError::Collisions(std::mem::take(
                &mut census.collisions,
            )));
        }
        Ok(census)
    }
}

/// Tokens are counted as planned; the store says how many of them it did not hold already.
fn settle(t: &mut crate::summary::Tally, new: u64) {
    t.unchanged = t.imported.saturating_sub(new);
    t.imported = new;
}

struct SecondPass<'a, S> {
    import: &'a OpenEdxImport<S>,
    census: Census,
    summary: Summary,
    sink: Sink<S>,
    /// Users waiting for their origins to be looked up, with their digests.
    users: Vec<(ImportedUser, String)>,
    writes: Vec<ImportWrite>,
    /// Imported applications by pk, for their tokens.
    clients: HashMap<i64, Client>,
    client_ids: HashSet<String>,
    /// (owner, name) of the clients of this export: unique here as in Latchkey.
    names: HashSet<(i64, String)>,
}

impl<S: Store> SecondPass<'_, S> {
    async fn row(&mut self, row: Known) -> Result<(), ImportError> {
        match row {
            Known::User(id, u) => {
                let Some(facts) = self.census.users.get(&id) else {
                    return Ok(());
                };
                if let Some(first) = facts.email_taken_by {
                    self.summary
                        .users
                        .skip("email already used by another user");
                    self.summary.note(format!(
                        "user {id} ({:?}) skipped: user {first} has the email {:?} but for case",
                        u.username, u.email
                    ));
                    return Ok(());
                }
                if let Some(why) = plan::unverifiable_hash(&u) {
                    self.summary.note(format!(
                        "user {id} ({:?}) imported with a password hash that cannot be verified \
                         here ({why}): it signs in after a password reset",
                        u.username
                    ));
                }
                let planned = plan::user(id, &u, facts, &self.import.hasher);
                self.users.push(planned);
                if self.users.len() >= BATCH {
                    self.flush_users().await?;
                }
            }
            Known::Application(pk, a) => {
                self.flush_users().await?;
                self.application(pk, &a).await?;
            }
            Known::AccessToken(pk, t) => {
                self.flush_users().await?;
                let Some(client) = t.application.and_then(|a| self.clients.get(&a)) else {
                    self.summary.access_tokens.skip("application not imported");
                    return Ok(());
                };
                let user = match t.user {
                    Some(u) if self.imported_user(u) => UserId(u),
                    Some(_) => {
                        self.summary.access_tokens.skip("user not imported");
                        return Ok(());
                    }
                    // A client_credentials token: Latchkey's are its client's owner's.
                    None => client.owner,
                };
                let expires = unix_seconds(&t.expires).unwrap_or(0);
                if expires <= self.import.settings.now {
                    self.summary.access_tokens.skip("expired");
                    return Ok(());
                }
                let row = AccessTokenRow {
                    hash: self.import.hasher.hash(&t.token),
                    jti: format!("openedx-at-{pk}"),
                    client_id: client.id.clone(),
                    user_id: user,
                    scopes: plan::token_scopes(&t.scope, client, &self.import.scopes),
                    issued_at: unix_seconds(&t.created).unwrap_or(0),
                    expires_at: expires,
                    family_id: None,
                    revoked: false,
                };
                self.summary.access_tokens.imported += 1;
                self.write(ImportWrite::AccessToken(row)).await?;
            }
            Known::RefreshToken(pk, t) => {
                self.flush_users().await?;
                let Some(client) = self.clients.get(&t.application) else {
                    self.summary.refresh_tokens.skip("application not imported");
                    return Ok(());
                };
                if !self.imported_user(t.user) {
                    self.summary.refresh_tokens.skip("user not imported");
                    return Ok(());
                }
                if t.revoked.is_some() {
                    self.summary.refresh_tokens.skip("revoked");
                    return Ok(());
                }
                let created = unix_seconds(&t.created).unwrap_or(0);
                let lifetime = client
                    .lifetimes
                    .refresh
                    .unwrap_or(self.import.settings.refresh_lifetime);
                if created + lifetime <= self.import.settings.now {
                    self.summary.refresh_tokens.skip("expired");
                    return Ok(());
                }
                let (scopes, access_expires) =
                    match t.access_token.and_then(|a| self.census.access.get(&a)) {
                        Some((set, expires)) => (self.census.scopes_of(*set), *expires),
                        None => ("", created),
                    };
                let family = Family {
                    id: format!("openedx-rt-{pk}"),
                    client_id: client.id.clone(),
                    user_id: UserId(t.user),
                    created_at: created,
                    expires_at: self.import.settings.family_lifetime.map(|l| created + l),
                };
                let first = NewRefresh {
                    hash: self.import.hasher.hash(&t.token),
                    family_id: family.id.clone(),
                    scopes: plan::token_scopes(scopes, client, &self.import.scopes),
                    issued_at: created,
                    expires_at: created + lifetime,
                    access_jti: match t.access_token {
                        Some(a) => format!("openedx-at-{a}"),
                        None => format!("openedx-rt-{pk}-access"),
                    },
                    access_expires_at: access_expires,
                };
                self.summary.refresh_tokens.imported += 1;
                self.write(ImportWrite::Refresh(family, first)).await?;
            }
            Known::Profile(_)
            | Known::AnonymousId(..)
            | Known::ApplicationAccess(_)
            | Known::Restricted(_) => {}
        }
        Ok(())
    }

    /// Imported by this run: in the export, valid, and not skipped.
    fn imported_user(&self, id: i64) -> bool {
        self.census
            .users
            .get(&id)
            .is_some_and(|f| f.email_taken_by.is_none())
    }

    async fn application(&mut self, pk: i64, a: &rows::ApplicationRow) -> Result<(), ImportError> {
        if !self.client_ids.insert(a.client_id.clone()) {
            self.summary.clients.skip("client id appears twice");
            return Ok(());
        }
        let owner = match a.user {
            Some(u) if self.imported_user(u) => Owner::Upstream(UserId(u)),
            _ => match self
                .census
                .first_superuser
                .filter(|s| self.imported_user(*s))
            {
                Some(s) => Owner::StandIn(UserId(s)),
                None => Owner::None,
            },
        };
        let none = census::AppFacts::default();
        let facts = self.census.apps.get(&pk).unwrap_or(&none);
        let planned = plan::application(a, facts, owner, &self.import.scopes, &self.import.hasher);
        let ClientPlan {
            mut client,
            digests,
            dropped,
        } = match planned {
            Ok(p) => p,
            Err(reason) => {
                self.summary.clients.skip(reason);
                return Ok(());
            }
        };
        for d in dropped {
            self.summary
                .note(format!("client {:?}: {d} dropped", a.name));
        }
        // Two clients of one owner cannot share a name here: the later gets its pk appended.
        let taken = self
            .import
            .store
            .client_by_name(client.owner, &client.name)
            .await?;
        if !self.names.insert((client.owner.0, client.name.clone()))
            || taken.is_some_and(|c| c.id != client.id)
        {
            client.name = format!("{} ({pk})", client.name);
            self.names.insert((client.owner.0, client.name.clone()));
        }
        let origin = ImportOrigin {
            kind: "client",
            key: client.id.clone(),
            digests,
        };
        let known = self
            .import
            .store
            .import_origins(SOURCE, origin.kind, std::slice::from_ref(&origin.key))
            .await?;
        let write = match known.first() {
            None => {
                self.summary.clients.imported += 1;
                Some(ImportWrite::NewClient(client.clone(), origin))
            }
            Some((_, old)) if *old == origin.digests => {
                self.summary.clients.unchanged += 1;
                None
            }
            Some((_, old)) => {
                self.summary.clients.updated += 1;
                let changed = digest::changed(old, &origin.digests, plan::CLIENT_FIELDS);
                Some(ImportWrite::ClientChanges {
                    client: client.clone(),
                    secret: changed.last().copied().unwrap_or(true),
                    origin,
                })
            }
        };
        self.clients.insert(pk, client);
        if let Some(w) = write {
            self.write(w).await?;
        }
        Ok(())
    }

    /// Looks up the waiting users' origins and plans each as new, changed or unchanged.
    async fn flush_users(&mut self) -> Result<(), ImportError> {
        if self.users.is_empty() {
            return Ok(());
        }
        let users = std::mem::take(&mut self.users);
        let keys: Vec<String> = users.iter().map(|(u, _)| u.id.0.to_string()).collect();
        let known: HashMap<String, String> = self
            .import
            .store
            .import_origins(SOURCE, "user", &keys)
            .await?
            .into_iter()
            .collect();
        for ((user, digests), key) in users.into_iter().zip(keys) {
            let upstream_sub = self
                .census
                .users
                .get(&user.id.0)
                .is_some_and(|f| f.sub.is_some());
            let old = known.get(&key).cloned();
            let origin = ImportOrigin {
                kind: "user",
                key,
                digests,
            };
            match old {
                None => {
                    self.summary.users.imported += 1;
                    self.writes.push(ImportWrite::NewUser(user, origin));
                }
                Some(old) if old == origin.digests => self.summary.users.unchanged += 1,
                Some(old) => {
                    self.summary.users.updated += 1;
                    let changed = digest::changed(&old, &origin.digests, plan::USER_FIELDS);
                    let fields = plan::user_fields(&changed, upstream_sub);
                    self.writes
                        .push(ImportWrite::UserChanges(user, fields, origin));
                }
            }
        }
        self.send_writes().await
    }

    async fn write(&mut self, w: ImportWrite) -> Result<(), ImportError> {
        self.writes.push(w);
        if self.writes.len() >= BATCH {
            self.send_writes().await?;
        }
        Ok(())
    }

    async fn send_writes(&mut self) -> Result<(), ImportError> {
        if !self.writes.is_empty() {
            let writes = std::mem::take(&mut self.writes);
            self.sink.send(writes).await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), ImportError> {
        self.flush_users().await?;
        self.send_writes().await
    }
}

/// Where batches go: each committed on its own, or all into one transaction (`--strict`, a dry
/// run) that ends with the import.
enum Sink<S> {
    PerBatch {
        store: Arc<S>,
        now: i64,
        applied: ImportApplied,
    },
    Single {
        steps: mpsc::Sender<ImportStep>,
        done: JoinHandle<Result<ImportApplied, StoreError>>,
    },
}

impl<S: Store> Sink<S> {
    fn new(import: &OpenEdxImport<S>) -> Sink<S> {
        let (store, now) = (import.store.clone(), import.settings.now);
        if import.settings.strict || import.settings.dry_run {
            let (steps, rx) = mpsc::channel(4);
            let commit = !import.settings.dry_run;
            let done =
                tokio::spawn(async move { store.apply_import(SOURCE, now, rx, commit).await });
            Sink::Single { steps, done }
        } else {
            Sink::PerBatch {
                store,
                now,
                applied: ImportApplied::default(),
            }
        }
    }

    async fn send(&mut self, writes: Vec<ImportWrite>) -> Result<(), ImportError> {
        match self {
            Sink::PerBatch {
                store,
                now,
                applied,
            } => {
                let (tx, rx) = mpsc::channel(2);
                // The receiver is right here: neither send can fail.
                let _ = tx.send(ImportStep::Write(writes)).await;
                let _ = tx.send(ImportStep::End).await;
                let got = store.apply_import(SOURCE, *now, rx, true).await?;
                applied.new_access_tokens += got.new_access_tokens;
                applied.new_refresh_tokens += got.new_refresh_tokens;
                Ok(())
            }
            Sink::Single { steps, done } => {
                if steps.send(ImportStep::Write(writes)).await.is_err() {
                    // The transaction ended early: its error says why.
                    let why = joined(done.await).err().unwrap_or_else(|| {
                        StoreError::Backend("the import's transaction ended early".into())
                    });
                    return Err(why.into());
                }
                Ok(())
            }
        }
    }

    async fn finish(self) -> Result<ImportApplied, ImportError> {
        match self {
            Sink::PerBatch { applied, .. } => Ok(applied),
            Sink::Single { steps, done } => {
                let _ = steps.send(ImportStep::End).await;
                Ok(joined(done.await)?)
            }
        }
    }
}

fn joined(
    r: Result<Result<ImportApplied, StoreError>, tokio::task::JoinError>,
) -> Result<ImportApplied, StoreError> {
    r.map_err(|e| StoreError::Backend(Box::new(e)))?
}
