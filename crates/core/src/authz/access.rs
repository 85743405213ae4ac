//! The authz API as a client may use it. A client gets an [`AuthzReader`] or an [`AuthzWriter`] only
//! from [`AuthzService::reader`] or [`AuthzService::writer`], which decide from the permissions an
//! operator granted it. The service's own methods stay open to the operator's CLI, which holds the
//! database anyway.
//!
//! Writing needs `authz:write` and nothing else; it does not imply reading. The owner's staff flag
//! no longer counts: see `docs/design/authz-service.md` for why.

use std::time::Duration;

use latchkey_authz::{AuthzError, Decision, RequestError};

use super::rule::RoleAssignment;
use super::{AssignmentFilter, AuthzService, AuthzServiceError, Scopes};
use crate::client::Permission;
use crate::client_auth::{AuthenticatedClient, PermissionError};
use crate::store::AuthzStore;

/// A client allowed to read the rules: checks, the change feed, scopes and assignments.
pub struct AuthzReader<'a, S> {
    service: &'a AuthzService<S>,
}

/// A client allowed to change role assignments; the audit trail names it as `client:<client_id>`.
pub struct AuthzWriter<'a, S> {
    service: &'a AuthzService<S>,
    actor: String,
}

impl<S: AuthzStore + 'static> AuthzService<S> {
    /// The rules as `client` may read them, if it holds `authz:read`.
    pub fn reader(
        &self,
        client: &AuthenticatedClient,
    ) -> Result<AuthzReader<'_, S>, PermissionError> {
        client.require(Permission::AuthzRead)?;
        Ok(AuthzReader { service: self })
    }

    /// The assignments as `client` may change them, if it holds `authz:write`.
    pub fn writer(
        &self,
        client: &AuthenticatedClient,
    ) -> Result<AuthzWriter<'_, S>, PermissionError> {
        client.require(Permission::AuthzWrite)?;
        Ok(AuthzWriter {
            service: self,
            actor: format!("client:{}", client.client().id),
        })
    }
}

impl<S: AuthzStore + 'static> AuthzReader<'_, S> {
    /// [`AuthzService::check_at`].
    pub fn check_at(
        &self,
        subject: &str,
        action: &str,
        scope: &str,
    ) -> Result<(Decision, i64), AuthzError> {
        self.service.check_at(subject, action, scope)
    }

    /// [`AuthzService::check_batch`].
    pub fn check_batch<'r>(
        &self,
        requests: impl IntoIterator<Item = (&'r str, &'r str, &'r str)>,
    ) -> Result<(Vec<Decision>, i64), (usize, AuthzError)> {
        self.service.check_batch(requests)
    }

    /// [`AuthzService::version_after`].
    pub async fn version_after(&self, after: i64, wait: Duration) -> i64 {
        self.service.version_after(after, wait).await
    }

    /// [`AuthzService::scopes_for`].
    pub fn scopes_for(&self, subject: &str, action: &str) -> Result<Scopes, RequestError> {
        self.service.scopes_for(subject, action)
    }

    /// [`AuthzService::assignments`].
    pub async fn assignments(
        &self,
        filter: &AssignmentFilter,
    ) -> Result<Vec<RoleAssignment>, AuthzServiceError> {
        self.service.assignments(filter).await
    }
}

impl<S: AuthzStore + 'static> AuthzWriter<'_, S> {
    /// [`AuthzService::assign`], audited as this client.
    pub async fn assign(
        &self,
        assignment: &RoleAssignment,
        now: i64,
    ) -> Result<bool, AuthzServiceError> {
        self.service.assign(assignment, &self.actor, now).await
    }

    /// [`AuthzService::unassign`], audited as this client.
    pub async fn unassign(
        &self,
        assignment: &RoleAssignment,
        now: i64,
    ) -> Result<bool, AuthzServiceError> {
        self.service.unassign(assignment, &self.actor, now).await
    }

    /// The version of the rules this node holds (after a change, the one it made).
    pub fn version(&self) -> i64 {
        self.service.version()
    }
}
