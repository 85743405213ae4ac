//! OAuth2 clients. A public client has no secret at all (the type cannot hold one); a confidential
//! client's secret exists only as a keyed hash. Only a confidential client can hold
//! [`Permission`]s: a public one merely names itself, so anyone could use what it held.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::secret::TokenHash;
use crate::user::UserId;

/// The one grant type a client is registered for (Open edX's `authorization_grant_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GrantType {
    Password,
    ClientCredentials,
    AuthorizationCode,
}

impl GrantType {
    /// The spelling Open edX puts in the JWT `grant_type` claim and its database.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::Password => "password",
            GrantType::ClientCredentials => "client-credentials",
            GrantType::AuthorizationCode => "authorization-code",
        }
    }

    /// The RFC 6749 spelling of `grant_type` on the token endpoint.
    pub fn oauth_name(self) -> &'static str {
        match self {
            GrantType::Password => "password",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::AuthorizationCode => "authorization_code",
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientInputError {
    #[error(
        "unknown grant type {0:?}: expected password, client-credentials or authorization-code"
    )]
    GrantType(String),
    #[error("a public client cannot have a client secret")]
    PublicWithSecret,
    #[error("redirect URI {0:?} is not an absolute URI without a fragment")]
    RedirectUri(String),
    #[error("an authorization-code client needs at least one redirect URI")]
    MissingRedirectUri,
    #[error("client name must not be empty")]
    EmptyName,
    #[error("client id must be 1 to 100 printable ASCII characters without spaces (got {0:?})")]
    ClientId(String),
    #[error("client secret must be at least 16 characters")]
    WeakSecret,
    #[error("scope {0:?} is not registered")]
    UnknownScope(String),
    #[error("filter {0:?} must look like kind:value, e.g. content_org:MITx or user:me")]
    Filter(String),
    #[error("{0} lifetime must be between 1 and 31536000 seconds (got {1})")]
    Lifetime(&'static str, i64),
    #[error(
        "unknown permission {0:?}: expected introspect, authz:read, authz:write or token:mint"
    )]
    Permission(String),
    #[error(
        "a public client cannot hold permissions (it would hold {0}): anyone who knows its \
         client_id could use them"
    )]
    PublicWithPermissions(String),
    #[error("permission {0} is both granted and revoked")]
    GrantedAndRevoked(Permission),
}

impl FromStr for GrantType {
    type Err = ClientInputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "password" => Ok(GrantType::Password),
            "client-credentials" | "client_credentials" => Ok(GrantType::ClientCredentials),
            "authorization-code" | "authorization_code" => Ok(GrantType::AuthorizationCode),
            other => Err(ClientInputError::GrantType(other.to_owned())),
        }
    }
}

/// What a confidential client may do beyond getting tokens for itself and its users. Each one
/// opens an endpoint that reads or changes what belongs to other clients' users, so none comes
/// with being confidential: an operator grants them one by one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Permission {
    /// RFC 7662 introspection of any token, whoever it was issued to.
    Introspect,
    /// The authz API's checks, change feed, scopes and assignment list.
    AuthzRead,
    /// Assigning and unassigning roles through the authz API.
    AuthzWrite,
    /// Minting a short-lived service JWT for any enabled user (`POST /oauth2/mint`).
    TokenMint,
    /// Reading the revocation feed (`GET /oauth2/revocations`): every revoked `jti` and every
    /// user's not-before instant, as resource servers need them.
    RevocationsRead,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::Introspect,
        Permission::AuthzRead,
        Permission::AuthzWrite,
        Permission::TokenMint,
        Permission::RevocationsRead,
    ];

    /// The spelling operators type and the database stores.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Introspect => "introspect",
            Permission::AuthzRead => "authz:read",
            Permission::AuthzWrite => "authz:write",
            Permission::TokenMint => "token:mint",
            Permission::RevocationsRead => "revocations:read",
        }
    }

    /// What the permission opens, for messages.
    pub fn opens(self) -> &'static str {
        match self {
            Permission::Introspect => "introspection",
            Permission::AuthzRead | Permission::AuthzWrite => "the authz API",
            Permission::TokenMint => "minting service JWTs",
            Permission::RevocationsRead => "the revocation feed",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = ClientInputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ClientInputError::Permission(s.to_owned()))
    }
}

/// The filter that confines a token to its own user's data (Open edX's `FILTER_USER_ME`).
pub const USER_ME_FILTER: &str = "user:me";

/// Public clients (mobile apps, SPAs) cannot keep a secret; confidential ones store only its hash,
/// and only they hold permissions (a public client that did would lend them to anyone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientKind {
    Public,
    Confidential {
        secret: StoredSecret,
        permissions: BTreeSet<Permission>,
    },
}

/// How a confidential client's secret is kept: never as the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredSecret {
    /// Latchkey's keyed hash (HMAC-SHA256 under the server key): checked in microseconds.
    Keyed(TokenHash),
    /// A Django password hash, as django-oauth-toolkit 2+ keeps secrets (`hash_client_secret`),
    /// brought by an import. Its first successful check replaces it with the keyed hash, so only
    /// that one check pays Django's cost.
    Django(String),
}

/// Per-client overrides of the server's token lifetimes, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lifetimes {
    pub jwt: Option<i64>,
    pub opaque: Option<i64>,
    pub refresh: Option<i64>,
}

/// An absolute redirect URI, compared by exact string match (RFC 6749 §3.1.2, OAuth 2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectUri(String);

impl TryFrom<&str> for RedirectUri {
    type Error = ClientInputError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        match url::Url::parse(value) {
            Ok(u) if u.fragment().is_none() && !u.cannot_be_a_base() => {
                Ok(RedirectUri(value.to_owned()))
            }
            _ => Err(ClientInputError::RedirectUri(value.to_owned())),
        }
    }
}

impl RedirectUri {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub owner: UserId,
    pub kind: ClientKind,
    pub grant_type: GrantType,
    pub redirect_uris: Vec<RedirectUri>,
    /// Scopes the client may ask for beyond the defaults.
    pub scopes: Vec<String>,
    /// Carried verbatim in JWTs, e.g. `content_org:MITx`.
    pub filters: Vec<String>,
    pub restricted: bool,
    pub skip_authorization: bool,
    pub lifetimes: Lifetimes,
    pub created_at: i64,
}

impl Client {
    pub fn is_public(&self) -> bool {
        matches!(self.kind, ClientKind::Public)
    }

    /// The `filters` its access tokens carry, in the JWT and in introspection answers alike: its
    /// own, then `user:me` unless it is a client_credentials client, as Open edX's
    /// `DOTAdapter.get_authorization_filters` adds it. A token issued for a user then reaches
    /// only that user's data in APIs that honour the filter; a client_credentials client acts as
    /// its owner to read in bulk, which the filter would confine to the owner's own rows.
    pub fn token_filters(&self) -> Vec<String> {
        let mut filters = self.filters.clone();
        let user_me = self.grant_type != GrantType::ClientCredentials;
        if user_me && !filters.iter().any(|f| f == USER_ME_FILTER) {
            filters.push(USER_ME_FILTER.to_owned());
        }
        filters
    }

    /// The permissions this client holds; always none for a public client.
    pub fn permissions(&self) -> &BTreeSet<Permission> {
        static NONE: BTreeSet<Permission> = BTreeSet::new();
        match &self.kind {
            ClientKind::Public => &NONE,
            ClientKind::Confidential { permissions, .. } => permissions,
        }
    }
}

/// Checks a filter's shape: `kind:value`, both non-empty, no whitespace.
pub fn parse_filter(value: &str) -> Result<String, ClientInputError> {
    match value.split_once(':') {
        Some((kind, rest))
            if !kind.is_empty()
                && !rest.is_empty()
                && !value.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(value.to_owned())
        }
        _ => Err(ClientInputError::Filter(value.to_owned())),
    }
}

/// Checks a client id given by an operator (generated ones are always fine).
pub fn parse_client_id(value: &str) -> Result<String, ClientInputError> {
    if !value.is_empty() && value.len() <= 100 && value.chars().all(|c| c.is_ascii_graphic()) {
        Ok(value.to_owned())
    } else {
        Err(ClientInputError::ClientId(value.to_owned()))
    }
}

pub fn parse_lifetime(what: &'static str, secs: i64) -> Result<i64, ClientInputError> {
    if (1..=31_536_000).contains(&secs) {
        Ok(secs)
    } else {
        Err(ClientInputError::Lifetime(what, secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_types_accept_both_spellings_and_name_the_bad_one() {
        assert_eq!(
            "client_credentials".parse(),
            Ok(GrantType::ClientCredentials)
        );
        assert_eq!(
            "client-credentials".parse(),
            Ok(GrantType::ClientCredentials)
        );
        assert_eq!(
            "implicit".parse::<GrantType>(),
            Err(ClientInputError::GrantType("implicit".into()))
        );
    }

    #[test]
    fn redirect_uris_must_be_absolute_without_fragment() {
        assert!(RedirectUri::try_from("https://app.example.org/cb").is_ok());
        assert!(RedirectUri::try_from("com.example.app:/oauth2redirect").is_ok());
        for bad in [
            "/relative/cb",
            "app.example.org/cb",
            "https://x/cb#frag",
            "mailto:x@y",
            "",
        ] {
            assert!(RedirectUri::try_from(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn permissions_round_trip_their_spelling_and_name_the_bad_one() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse(), Ok(p));
        }
        assert_eq!(
            "authz:admin".parse::<Permission>(),
            Err(ClientInputError::Permission("authz:admin".into()))
        );
    }

    #[test]
    fn tokens_for_a_user_carry_user_me_once_and_client_credentials_never() {
        let client = |grant_type, filters: &[&str]| Client {
            id: "c".into(),
            name: "c".into(),
            owner: UserId(1),
            kind: ClientKind::Public,
            grant_type,
            redirect_uris: vec![],
            scopes: vec![],
            filters: filters.iter().map(|f| f.to_string()).collect(),
            restricted: false,
            skip_authorization: false,
            lifetimes: Lifetimes::default(),
            created_at: 0,
        };
        let org = ["content_org:MITx"];
        for grant in [GrantType::Password, GrantType::AuthorizationCode] {
            assert_eq!(
                client(grant, &org).token_filters(),
                ["content_org:MITx", "user:me"]
            );
            assert_eq!(
                client(grant, &["user:me", "content_org:MITx"]).token_filters(),
                ["user:me", "content_org:MITx"],
                "configured already: not twice"
            );
        }
        assert_eq!(
            client(GrantType::ClientCredentials, &org).token_filters(),
            ["content_org:MITx"]
        );
        assert!(client(GrantType::ClientCredentials, &[])
            .token_filters()
            .is_empty());
    }

    #[test]
    fn filters_need_kind_and_value() {
        assert!(parse_filter("content_org:MITx").is_ok());
        assert!(parse_filter("user:me").is_ok());
        for bad in ["MITx", ":x", "x:", "a b:c"] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }
}
