//! Signing a user in with a login (username or email) and a password: throttling, the password
//! check on the hashing pool, and the rehash of outdated hashes. Its one product is a [`SignedIn`]
//! proof, which the password grant (and any page that signs users in) turns into tokens or a
//! session.
//!
//! Every way of failing looks the same from outside: an unknown login, a wrong password and a
//! disabled account get one answer after about the same work, and the log names the user by id
//! (or the login by a keyed hash), never by the text typed, which may be a password typed in the
//! wrong field.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::InternalError;
use crate::password::{
    self, Decoy, HashingPool, PasswordCheck, PoolError, DJANGO_DEFAULT_ITERATIONS,
};
use crate::random::Random;
use crate::secret::{Secret, SecretHasher, TokenHash};
use crate::store::{StoreError, UserStore};
use crate::throttle::{AccountKey, Refusal, Throttle, ThrottleError};
use crate::tokens::RequestContext;
use crate::user::User;

/// Proof that a user proved who they are just now. Only [`SignIn::sign_in`] makes one.
#[derive(Debug)]
pub struct SignedIn(User);

impl SignedIn {
    pub fn user(&self) -> &User {
        &self.0
    }

    pub fn into_user(self) -> User {
        self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown login, wrong password or disabled account: deliberately one case.
    #[error("invalid username or password")]
    BadCredentials,
    #[error("too many sign-in attempts; retry in {retry_after} seconds")]
    Throttled { retry_after: i64 },
    /// The hashing queue is full: nothing was checked, and nothing counted against the caller.
    #[error("the server is busy; retry in {retry_after} seconds")]
    Busy { retry_after: i64 },
    #[error(transparent)]
    Internal(#[from] InternalError),
}

impl From<StoreError> for SignInError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %e, "the database did not answer a sign-in");
                SignInError::Busy {
                    retry_after: crate::error::DATABASE_RETRY_AFTER,
                }
            }
            e => SignInError::Internal(e.into()),
        }
    }
}

/// How long a caller refused for a full queue or its network's in-flight cap should wait: the
/// queue drains in well under a second.
pub(crate) const BUSY_RETRY_AFTER: i64 = 1;

/// The longest login that can name an account: an email address (RFC 5321's 254).
const MAX_LOGIN_CHARS: usize = 254;

pub struct SignIn<S> {
    store: Arc<S>,
    passwords: Arc<HashingPool>,
    throttle: Throttle,
    /// Keys the hash under which a failed login's text appears in logs, and picks decoys.
    hasher: SecretHasher,
    random: Arc<dyn Random>,
    /// The share of password hashes that are Django's, in millionths, and their iterations:
    /// unknown logins get a Django decoy in the same proportion (see [`SignIn::refresh_decoys`]).
    django_share_ppm: AtomicU64,
    django_iterations: AtomicU64,
}

/// The keyed hash a decoy is picked from, when an attempt spends a decoy instead of checking a
/// stored hash: a login that names no one (keyed as the throttle counts it), or an account no
/// password can match (Django's unusable marker on retired accounts, no hash at all, a hash that
/// cannot be verified). Such an account costs what an unknown login costs, as Django's
/// `check_password` runs its default hasher for it; keyed by the account, so that it costs the
/// same whichever login (username or email) names it.
fn decoy_key(
    hasher: &SecretHasher,
    account: &AccountKey,
    stored_hash: Option<&str>,
) -> Option<TokenHash> {
    match account {
        AccountKey::Unknown(key) => Some(*key),
        AccountKey::User(id) if !stored_hash.is_some_and(password::can_match) => {
            Some(hasher.hash(&format!("decoy\0{}", id.0)))
        }
        AccountKey::User(_) => None,
    }
}

impl<S: UserStore> SignIn<S> {
    pub fn new(
        store: Arc<S>,
        passwords: Arc<HashingPool>,
        throttle: Throttle,
        hasher: SecretHasher,
        random: Arc<dyn Random>,
    ) -> Self {
        SignIn {
            store,
            passwords,
            throttle,
            hasher,
            random,
            django_share_ppm: AtomicU64::new(0),
            django_iterations: AtomicU64::new(u64::from(DJANGO_DEFAULT_ITERATIONS)),
        }
    }

    pub fn passwords(&self) -> &Arc<HashingPool> {
        &self.passwords
    }

    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// Checks `password` for the user `login` names (a username exactly, or an email in any case).
    pub async fn sign_in(
        &self,
        login: &str,
        password: Secret,
        ctx: RequestContext,
    ) -> Result<SignedIn, SignInError> {
        // No account's username (150) or email (254) is longer: refused before any work or state.
        if login.chars().count() > MAX_LOGIN_CHARS {
            return Err(SignInError::BadCredentials);
        }
        let _slot = self
            .throttle
            .enter(ctx.ip)
            .map_err(|r| self.refused(r, login, ctx))?;
        // A network already locked out costs nothing more, not even the look-up below (the
        // reservation after it stays the authority).
        if let Some(refusal) = self.throttle.network_locked(ctx.ip, ctx.now) {
            return Err(self.refused(refusal, login, ctx));
        }
        let user = self.store.user_by_login(login).await?;
        let account = match &user {
            Some(u) => AccountKey::User(u.id),
            None => AccountKey::unknown(&self.hasher, login),
        };
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        if let (Some(u), Some(Err(e))) = (&user, stored.map(password::StoredHash::parse)) {
            // The operator's to fix (e.g. an imported row over the cost bounds): say which account.
            tracing::warn!(user_id = u.id.0, error = %e, "stored password hash cannot be verified");
        }
        let decoy = decoy_key(&self.hasher, &account, stored).map(|key| self.decoy_for(&key));
        let attempt = match self.throttle.reserve(account, ctx.ip, ctx.now).await {
            Ok(attempt) => attempt,
            Err(ThrottleError::Refused(r)) => return Err(self.refused(r, login, ctx)),
            Err(ThrottleError::Store(e)) => return Err(e.into()),
        };
        let check = match (&user, decoy) {
            (Some(u), None) => {
                self.passwords
                    .verify(password.clone(), u.password_hash.clone())
                    .await
            }
            (_, decoy) => {
                self.passwords
                    .decoy(password.clone(), decoy.unwrap_or(Decoy::Argon2id))
                    .await
            }
        };
        let check = match check {
            Ok(check) => check,
            Err(PoolError::Busy) => {
                // Nothing was checked: the attempt is the server's fault, not the caller's.
                attempt.unchecked().await;
                return Err(SignInError::Busy {
                    retry_after: BUSY_RETRY_AFTER,
                });
            }
            Err(e) => return Err(InternalError::Blocking(e.to_string()).into()),
        };
        let (user, upgrade) = match (user, check) {
            (Some(user), PasswordCheck::Match { upgrade }) if !user.disabled => (user, upgrade),
            (user, check) => {
                attempt.failed().await;
                let disabled = matches!(check, PasswordCheck::Match { .. });
                match user {
                    Some(u) => tracing::info!(target: "audit", user_id = u.id.0, disabled,
                        ip = ?ctx.ip, "password sign-in failed"),
                    None => tracing::info!(target: "audit", login_hash = %self.login_hash(login),
                        ip = ?ctx.ip, "password sign-in failed: no such user"),
                }
                return Err(SignInError::BadCredentials);
            }
        };
        attempt.succeeded().await;
        if upgrade {
            self.upgrade_hash(&user, password).await;
        }
        Ok(SignedIn(user))
    }

    /// Reads the share of Django hashes among stored passwords, for decoys. Run at start and by
    /// the janitor: imported users move to argon2id as they sign in.
    pub async fn refresh_decoys(&self) -> Result<(), StoreError> {
        let mix = self.store.password_mix().await?;
        let ppm = (mix.django * 1_000_000)
            .checked_div(mix.with_password)
            .unwrap_or(0);
        self.django_share_ppm.store(ppm, Ordering::Relaxed);
        if let Some(iterations) = mix.django_iterations {
            self.django_iterations
                .store(u64::from(iterations), Ordering::Relaxed);
        }
        Ok(())
    }

    /// The same login always gets the same kind of decoy, and logins get Django decoys in the
    /// proportion real users have Django hashes: repeating a probe shows nothing new, and the
    /// time an unknown login takes is distributed as a real user's is.
    /// `key` is the unknown login's keyed hash, the one the throttle counts it under.
    fn decoy_for(&self, key: &TokenHash) -> Decoy {
        let share = self.django_share_ppm.load(Ordering::Relaxed);
        let mut first = [0u8; 8];
        first.copy_from_slice(&key.as_bytes()[..8]);
        if u64::from_le_bytes(first) % 1_000_000 < share {
            let iterations = self.django_iterations.load(Ordering::Relaxed);
            Decoy::DjangoPbkdf2 {
                iterations: u32::try_from(iterations).unwrap_or(DJANGO_DEFAULT_ITERATIONS),
            }
        } else {
            Decoy::Argon2id
        }
    }

    /// A login as it may appear in logs: keyed, so a log reader cannot test guesses against it.
    fn login_hash(&self, login: &str) -> String {
        let digest = self.hasher.hash(&format!("log\0{login}"));
        hex::encode(&digest.as_bytes()[..8])
    }

    fn refused(&self, refusal: Refusal, login: &str, ctx: RequestContext) -> SignInError {
        tracing::warn!(target: "audit", login_hash = %self.login_hash(login), ip = ?ctx.ip,
            ?refusal, "password sign-in refused before checking");
        match refusal {
            Refusal::Locked { retry_after } => SignInError::Throttled { retry_after },
            Refusal::Busy => SignInError::Throttled {
                retry_after: BUSY_RETRY_AFTER,
            },
        }
    }

    /// Replaces a Django or outdated hash with a current argon2id one. A failure here must not
    /// fail the sign-in: the old hash still works, and the next sign-in tries again.
    async fn upgrade_hash(&self, user: &User, password: Secret) {
        let Some(old) = user.password_hash.clone() else {
            return;
        };
        match self.passwords.hash(password, self.random.clone()).await {
            Ok(Ok(new)) => {
                if let Err(e) = self.store.replace_password_hash(user.id, &old, &new).await {
                    tracing::warn!(user_id = user.id.0, error = %e, "password hash upgrade failed");
                }
            }
            Ok(Err(e)) => tracing::warn!(user_id = user.id.0, error = %e, "rehash failed"),
            Err(e) => tracing::warn!(user_id = user.id.0, error = %e, "rehash skipped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::UserId;

    const DJANGO: &str =
        "pbkdf2_sha256$600000$PAQ8wKbvHZtv$/4Rhro23z9a/DABOaceu/Fi3Hed9YQ2bA9aknkn7NCs=";

    #[test]
    fn accounts_no_password_can_match_get_a_decoy_of_their_own() {
        let hasher = SecretHasher::new(&[9; 32]);
        let user = AccountKey::User(UserId(7));
        assert!(decoy_key(&hasher, &user, Some(DJANGO)).is_none());
        let unusable = decoy_key(
            &hasher,
            &user,
            Some("!Xq3wM0qSAkD2Ijg1oZq8rWZ7yTiVrjv5V8VpVq1S"),
        );
        let again = decoy_key(&hasher, &user, Some("!another-marker"));
        let none = decoy_key(&hasher, &user, None);
        let broken = decoy_key(&hasher, &user, Some("pbkdf2_sha256$99999999$s$AAAA"));
        assert!(unusable.is_some());
        assert!(unusable == again && again == none && none == broken);
        let other = decoy_key(&hasher, &AccountKey::User(UserId(8)), None);
        assert!(other.is_some() && other != unusable);
        let unknown = AccountKey::unknown(&hasher, "nobody@example.com");
        let AccountKey::Unknown(key) = unknown else {
            panic!("an unknown login")
        };
        assert!(decoy_key(&hasher, &unknown, None) == Some(key));
    }
}
