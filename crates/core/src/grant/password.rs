//! RFC 6749 §4.3: the resource owner's username (or email) and password, as Open edX's mobile
//! apps sign in. Unknown user and wrong password are indistinguishable, in answer and in time.

use crate::client::{Client, GrantType};
use crate::error::{GrantError, InternalError};
use crate::password::PasswordCheck;
use crate::request::AccessFormat;
use crate::secret::Secret;
use crate::store::Store;
use crate::tokens::{Issued, RequestContext, TokenService};

const BAD_CREDENTIALS: &str = "invalid username or password";

impl<S: Store> TokenService<S> {
    pub(crate) async fn password(
        &self,
        client: &Client,
        login: &str,
        password: Secret,
        scope: Option<&str>,
        format: AccessFormat,
        ctx: RequestContext,
    ) -> Result<Issued, GrantError> {
        Self::require_grant_type(client, GrantType::Password)?;
        if let Err(retry_after) = self.throttle.check(login, ctx.ip, ctx.now) {
            tracing::warn!(target: "audit", login, ip = ?ctx.ip, "password grant throttled");
            return Err(GrantError::Throttled { retry_after });
        }
        let scopes = self.scopes.resolve(scope, client)?;
        let user = self.store.user_by_login(login).await?;
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());

        // argon2id takes tens of milliseconds of CPU: off the async workers, one per core.
        let check = self
            .passwords
            .verify(password.clone(), stored)
            .await
            .map_err(|e| GrantError::Internal(InternalError::Blocking(e.to_string())))?;

        let (user, upgrade) = match (user, check) {
            (Some(user), PasswordCheck::Match { upgrade }) => (user, upgrade),
            _ => {
                self.throttle.failed(login, ctx.ip, ctx.now);
                tracing::info!(target: "audit", login, ip = ?ctx.ip, "password sign-in failed");
                return Err(GrantError::InvalidGrant(BAD_CREDENTIALS));
            }
        };
        if user.disabled {
            tracing::info!(target: "audit", user_id = user.id.0, "disabled user refused");
            return Err(GrantError::InvalidGrant("this account is disabled"));
        }
        self.throttle.succeeded(login);
        if upgrade {
            self.upgrade_hash(&user, password).await;
        }
        tracing::info!(target: "audit", user_id = user.id.0, client_id = %client.id, "password sign-in");
        self.start_family(client, &user, scopes, format, ctx.now)
            .await
    }

    /// Replaces a Django or outdated hash with a current argon2id one. A failure here must not
    /// fail the sign-in: the old hash still works, and the next sign-in tries again.
    async fn upgrade_hash(&self, user: &crate::user::User, password: Secret) {
        let Some(old) = user.password_hash.clone() else {
            return;
        };
        let new = self.passwords.hash(password, self.random.clone()).await;
        match new {
            Ok(Ok(new)) => {
                if let Err(e) = self.store.replace_password_hash(user.id, &old, &new).await {
                    tracing::warn!(user_id = user.id.0, error = %e, "password hash upgrade failed");
                }
            }
            Ok(Err(e)) => tracing::warn!(user_id = user.id.0, error = %e, "rehash failed"),
            Err(e) => tracing::warn!(user_id = user.id.0, error = %e, "rehash task failed"),
        }
    }
}
