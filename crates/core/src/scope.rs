//! Scopes: the registry the operator configures, and how a grant's scopes are decided.

use crate::client::{Client, GrantType};

/// What a grant with no `scope` parameter gets (product.md §2).
pub const DEFAULT_SCOPES: [&str; 4] = ["read", "write", "email", "profile"];
pub const USER_ID_SCOPE: &str = "user_id";
/// OpenID Connect: with it, an authorization code also yields an ID token. Any client may ask
/// for it: it reveals nothing the other scopes do not already decide.
pub const OPENID_SCOPE: &str = "openid";

/// The scopes an installation knows. Order is kept: it is the order tokens list them in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeRegistry {
    registered: Vec<String>,
}

impl Default for ScopeRegistry {
    fn default() -> Self {
        let builtin = [
            "read",
            "write",
            "email",
            "profile",
            "user_id",
            "grades:read",
            "certificates:read",
            "tpa:read",
            OPENID_SCOPE,
        ];
        ScopeRegistry {
            registered: builtin.iter().map(|s| s.to_string()).collect(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    #[error("scope {0:?} is not registered")]
    Unregistered(String),
    #[error("scope {0:?} is not allowed for this client")]
    NotAllowed(String),
    #[error("scope {0:?} was not granted originally")]
    Widened(String),
    #[error("scope {0:?} is not a valid scope token")]
    Malformed(String),
}

impl ScopeRegistry {
    /// The built-in scopes plus the operator's own, without duplicates.
    pub fn with_extra(extra: &[String]) -> Result<Self, ScopeError> {
        let mut reg = ScopeRegistry::default();
        for s in extra {
            check_token(s)?;
            if !reg.registered.contains(s) {
                reg.registered.push(s.clone());
            }
        }
        Ok(reg)
    }

    pub fn all(&self) -> &[String] {
        &self.registered
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.registered.iter().any(|s| s == scope)
    }

    /// The scopes a new grant gets: requested ⊆ (client's allowed ∪ defaults ∪ `openid`) ∩
    /// registered, or the defaults (plus `user_id` where the client may have it) when none are
    /// requested. Password grants always carry `user_id`, as Open edX's mobile apps rely on it.
    pub fn resolve(
        &self,
        requested: Option<&str>,
        client: &Client,
    ) -> Result<Vec<String>, ScopeError> {
        let mut scopes: Vec<String> = match requested.map(str::trim).filter(|s| !s.is_empty()) {
            None => {
                let mut s: Vec<String> = DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect();
                if client.scopes.iter().any(|s| s == USER_ID_SCOPE) {
                    s.push(USER_ID_SCOPE.to_owned());
                }
                s
            }
            Some(list) => self.allowed(list, client)?,
        };
        if client.grant_type == GrantType::Password && !scopes.iter().any(|s| s == USER_ID_SCOPE) {
            scopes.push(USER_ID_SCOPE.to_owned());
        }
        Ok(scopes)
    }

    /// The scopes of a space-separated `list`, each registered and one `client` may ask for (a
    /// default, `openid`, or one granted to it), without duplicates, in the order asked.
    pub fn allowed(&self, list: &str, client: &Client) -> Result<Vec<String>, ScopeError> {
        let mut out: Vec<String> = Vec::new();
        for scope in list.split(' ').filter(|s| !s.is_empty()) {
            check_token(scope)?;
            if !self.contains(scope) {
                return Err(ScopeError::Unregistered(scope.to_owned()));
            }
            let allowed = DEFAULT_SCOPES.contains(&scope)
                || scope == OPENID_SCOPE
                || client.scopes.iter().any(|s| s == scope);
            if !allowed {
                return Err(ScopeError::NotAllowed(scope.to_owned()));
            }
            if !out.iter().any(|s| s == scope) {
                out.push(scope.to_owned());
            }
        }
        Ok(out)
    }
}

/// A refresh may narrow the original grant's scopes, never widen them (RFC 6749 §6).
pub fn narrow(requested: Option<&str>, granted: &[String]) -> Result<Vec<String>, ScopeError> {
    match requested.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(granted.to_vec()),
        Some(list) => {
            let mut out: Vec<String> = Vec::new();
            for scope in list.split(' ').filter(|s| !s.is_empty()) {
                if !granted.iter().any(|g| g == scope) {
                    return Err(ScopeError::Widened(scope.to_owned()));
                }
                if !out.iter().any(|s| s == scope) {
                    out.push(scope.to_owned());
                }
            }
            Ok(out)
        }
    }
}

/// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
fn check_token(scope: &str) -> Result<(), ScopeError> {
    let ok = !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ScopeError::Malformed(scope.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientKind, Lifetimes};
    use crate::user::UserId;

    fn client(grant: GrantType, scopes: &[&str]) -> Client {
        Client {
            id: "c".into(),
            name: "c".into(),
            owner: UserId(1),
            kind: ClientKind::Public,
            grant_type: grant,
            redirect_uris: vec![],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            filters: vec![],
            restricted: false,
            skip_authorization: false,
            lifetimes: Lifetimes::default(),
            created_at: 0,
        }
    }

    #[test]
    fn defaults_when_nothing_is_requested() {
        let reg = ScopeRegistry::default();
        let cc = client(GrantType::ClientCredentials, &[]);
        assert_eq!(
            reg.resolve(None, &cc).unwrap(),
            ["read", "write", "email", "profile"]
        );
        let cc_uid = client(GrantType::ClientCredentials, &["user_id"]);
        assert_eq!(
            reg.resolve(Some("  "), &cc_uid).unwrap(),
            ["read", "write", "email", "profile", "user_id"]
        );
    }

    #[test]
    fn password_grants_always_carry_user_id() {
        let reg = ScopeRegistry::default();
        let pw = client(GrantType::Password, &[]);
        assert_eq!(reg.resolve(Some("read"), &pw).unwrap(), ["read", "user_id"]);
    }

    #[test]
    fn requested_scopes_must_be_registered_and_allowed() {
        let reg = ScopeRegistry::default();
        let c = client(GrantType::ClientCredentials, &["grades:read"]);
        assert_eq!(
            reg.resolve(Some("read grades:read read"), &c).unwrap(),
            ["read", "grades:read"]
        );
        assert_eq!(
            reg.resolve(Some("certificates:read"), &c),
            Err(ScopeError::NotAllowed("certificates:read".into()))
        );
        assert_eq!(
            reg.resolve(Some("nope"), &c),
            Err(ScopeError::Unregistered("nope".into()))
        );
        assert_eq!(
            reg.resolve(Some("a\"b"), &c),
            Err(ScopeError::Malformed("a\"b".into()))
        );
    }

    #[test]
    fn refresh_may_narrow_but_not_widen() {
        let granted = vec!["read".to_string(), "email".to_string()];
        assert_eq!(narrow(Some("email"), &granted).unwrap(), ["email"]);
        assert_eq!(narrow(None, &granted).unwrap(), granted);
        assert_eq!(
            narrow(Some("write"), &granted),
            Err(ScopeError::Widened("write".into()))
        );
    }
}
