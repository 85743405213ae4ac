//! The first pass: what the second needs to know before it writes a row. dumpdata's order is not
//! the order of dependencies (a user's `sub` is in `student.anonymoususerid`, after the users;
//! an application's scopes are in `oauth_dispatch.applicationaccess`, after the tokens), so this
//! pass keeps a few compact facts per user, application and token, validates every row, and
//! finds what would stop the import before anything is written.

use std::collections::{BTreeMap, HashMap, HashSet};

use latchkey_core::user::{email_key, AnonymousId, Email, User};

use super::rows::{Known, UserRow};

/// A row that cannot be imported as it is, by its 1-based position in the export.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Malformed {
    pub position: u64,
    pub model: String,
    pub problem: String,
}

/// What the first pass learnt of a user.
#[derive(Debug, Default)]
pub struct UserFacts {
    pub profile_name: Option<Box<str>>,
    /// The course-less anonymous id with the highest pk (`anonymous_id_for_user(user, None)`),
    /// as the 16 bytes its 32 hex digits spell: a user's facts are kept for every user at once.
    pub sub: Option<(i64, [u8; 16])>,
    /// A user before this one holds the same email but for case: this one is skipped.
    pub email_taken_by: Option<i64>,
}

#[derive(Debug, Default)]
pub struct AppFacts {
    pub scopes: Vec<String>,
    pub filters: Vec<String>,
    pub restricted: bool,
}

#[derive(Debug, Default)]
pub struct Census {
    pub users: HashMap<i64, UserFacts>,
    /// Who holds each email, by a digest of its [`email_key`]: 16 bytes a user, whatever the
    /// address's length.
    emails: HashMap<[u8; 16], i64>,
    /// The active superuser with the lowest id: the owner of applications that have none.
    pub first_superuser: Option<i64>,
    pub apps: HashMap<i64, AppFacts>,
    /// An access token's scopes (interned) and expiry, for the refresh token issued with it.
    pub access: HashMap<i64, (u32, i64)>,
    scope_sets: Vec<String>,
    scope_index: HashMap<String, u32>,
    /// What stops the import before it writes: ids, usernames or emails held by users that no
    /// import made.
    pub collisions: Vec<String>,
    pub malformed: Vec<Malformed>,
    malformed_at: HashSet<u64>,
    pub ignored: BTreeMap<String, u64>,
}

/// The users already in the store that no import made, by what an imported user must not take.
pub struct Natives {
    ids: HashMap<i64, String>,
    usernames: HashSet<String>,
    emails: HashMap<String, String>,
}

impl Natives {
    pub fn new(users: &[User]) -> Self {
        Natives {
            ids: users.iter().map(|u| (u.id.0, u.username.clone())).collect(),
            usernames: users.iter().map(|u| u.username.clone()).collect(),
            emails: users
                .iter()
                .map(|u| (email_key(&u.email), u.username.clone()))
                .collect(),
        }
    }
}

impl Census {
    pub fn is_malformed(&self, position: u64) -> bool {
        self.malformed_at.contains(&position)
    }

    pub fn malformed(&mut self, position: u64, model: &str, problem: String) {
        self.malformed_at.insert(position);
        self.malformed.push(Malformed {
            position,
            model: model.to_owned(),
            problem,
        });
    }

    pub fn ignore(&mut self, model: String) {
        *self.ignored.entry(model).or_default() += 1;
    }

    pub fn scopes_of(&self, set: u32) -> &str {
        self.scope_sets
            .get(set as usize)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Takes in one known row; returns the problem if it is malformed.
    pub fn see(&mut self, row: &Known, natives: &Natives) -> Result<(), String> {
        match row {
            Known::User(id, u) => self.see_user(*id, u, natives)?,
            Known::Profile(p) => {
                let facts = self.user_mut(p.user)?;
                facts.profile_name = Some(p.name.as_str().into());
            }
            Known::AnonymousId(pk, a) => {
                AnonymousId::try_from(a.anonymous_user_id.as_str()).map_err(|e| e.to_string())?;
                let mut sub = [0u8; 16];
                hex::decode_to_slice(&a.anonymous_user_id, &mut sub).map_err(|e| e.to_string())?;
                let course_less = a.course_id.as_deref().unwrap_or("").is_empty();
                let facts = self.user_mut(a.user)?;
                let higher = facts.sub.as_ref().is_none_or(|(best, _)| pk > best);
                if course_less && higher {
                    facts.sub = Some((*pk, sub));
                }
            }
            Known::Application(pk, _) => {
                self.apps.entry(*pk).or_default();
            }
            Known::AccessToken(pk, t) => {
                let set = self.intern(&t.scope);
                let expires = crate::datetime::unix_seconds(&t.expires).unwrap_or(0);
                self.access.insert(*pk, (set, expires));
            }
            Known::RefreshToken(..) => {}
            Known::ApplicationAccess(a) => {
                let app = self.app_mut(a.application)?;
                app.scopes = comma_list(&a.scopes);
                app.filters = comma_list(&a.filters);
            }
            Known::Restricted(r) => self.app_mut(r.application)?.restricted = true,
        }
        Ok(())
    }

    fn see_user(&mut self, id: i64, u: &UserRow, natives: &Natives) -> Result<(), String> {
        super::plan::check_user(u)?;
        if self.users.contains_key(&id) {
            return Err(format!("user id {id} appears twice"));
        }
        if let Some(name) = natives.ids.get(&id) {
            self.collisions.push(format!(
                "user id {id} ({:?}) is already held here by {name:?}",
                u.username
            ));
        }
        if natives.usernames.contains(&u.username) {
            self.collisions.push(format!(
                "username {:?} (user id {id}) is already taken here",
                u.username
            ));
        }
        let key = email_key(&u.email);
        if let Some(name) = natives.emails.get(&key) {
            self.collisions.push(format!(
                "email {:?} (user id {id}) is already held here by {name:?}",
                u.email
            ));
        }
        let mut facts = UserFacts::default();
        let digest = email_digest(&key);
        match self.emails.get(&digest) {
            Some(first) => facts.email_taken_by = Some(*first),
            None => {
                self.emails.insert(digest, id);
            }
        }
        if u.is_superuser && u.is_active && self.first_superuser.is_none_or(|s| id < s) {
            self.first_superuser = Some(id);
        }
        self.users.insert(id, facts);
        Ok(())
    }

    fn user_mut(&mut self, id: i64) -> Result<&mut UserFacts, String> {
        self.users
            .get_mut(&id)
            .ok_or_else(|| format!("user {id} does not exist"))
    }

    fn app_mut(&mut self, pk: i64) -> Result<&mut AppFacts, String> {
        self.apps
            .get_mut(&pk)
            .ok_or_else(|| format!("application {pk} does not exist"))
    }

    fn intern(&mut self, scopes: &str) -> u32 {
        if let Some(i) = self.scope_index.get(scopes) {
            return *i;
        }
        let i = u32::try_from(self.scope_sets.len()).unwrap_or(u32::MAX);
        self.scope_sets.push(scopes.to_owned());
        self.scope_index.insert(scopes.to_owned(), i);
        i
    }
}

fn email_digest(key: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(
        &aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes()).as_ref()[..16],
    );
    out
}

/// django-mysql's `ListCharField` as dumpdata writes it: comma-joined, `""` for none.
fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether an email is one Latchkey accepts: said here so that the first pass reports it.
pub fn check_email(email: &str) -> Result<(), String> {
    Email::try_from(email).map(drop).map_err(|e| e.to_string())
}
