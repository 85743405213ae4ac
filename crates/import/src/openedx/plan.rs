//! One row of the export to what Latchkey stores: a user, a client, a token. Pure: no I/O, so
//! every rule here is tested on its own.

use latchkey_core::client::{
    parse_client_id, parse_filter, Client, ClientKind, GrantType, Lifetimes, RedirectUri,
    StoredSecret,
};
use latchkey_core::password::StoredHash;
use latchkey_core::scope::{ScopeRegistry, DEFAULT_SCOPES, OPENID_SCOPE, USER_ID_SCOPE};
use latchkey_core::secret::SecretHasher;
use latchkey_core::store::{ImportedUser, NewUserRow, UserFields};
use latchkey_core::user::{is_django_username, UserId};

use super::census::{check_email, AppFacts, UserFacts};
use super::rows::{ApplicationRow, UserRow};
use crate::datetime::unix_seconds;
use crate::digest;

/// The fields of a user a re-import compares, in digest order.
pub const USER_FIELDS: usize = 7;
/// The fields of a client a re-import compares, in digest order; the secret is the last.
pub const CLIENT_FIELDS: usize = 9;

/// What the first pass refuses in an `auth.user` row.
pub fn check_user(u: &UserRow) -> Result<(), String> {
    if !is_django_username(&u.username) {
        return Err(format!(
            "username {:?} is not one Django accepts (letters, digits and @.+-_, at most 150)",
            u.username
        ));
    }
    check_email(&u.email)
}

/// The user this row becomes, and the digests of its fields.
pub fn user(
    id: i64,
    u: &UserRow,
    facts: &UserFacts,
    hasher: &SecretHasher,
) -> (ImportedUser, String) {
    let full_name = format!("{} {}", u.first_name.trim(), u.last_name.trim());
    let name = match facts.profile_name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => n.to_owned(),
        _ => full_name.trim().to_owned(),
    };
    let upstream_sub = facts.sub.as_ref().map(|(_, s)| hex::encode(s));
    let sub = upstream_sub
        .clone()
        .unwrap_or_else(|| derived_sub(hasher, id));
    let password_hash = (!u.password.is_empty()).then(|| u.password.clone());
    let user = ImportedUser {
        id: UserId(id),
        row: NewUserRow {
            username: u.username.clone(),
            email: u.email.clone(),
            name,
            password_hash,
            is_staff: u.is_staff,
            is_superuser: u.is_superuser,
            // Open edX lets an inactive user sign in; its tokens say `email_verified: false`.
            email_verified: u.is_active,
            sub,
            created_at: unix_seconds(&u.date_joined).unwrap_or(0),
        },
        given_name: u.first_name.clone(),
        family_name: u.last_name.clone(),
    };
    let names = format!(
        "{}\0{}\0{}",
        user.row.name, user.given_name, user.family_name
    );
    let flags = [u8::from(u.is_staff), u8::from(u.is_superuser)];
    let digests = digest::encode(&[
        u.username.as_bytes(),
        u.email.as_bytes(),
        names.as_bytes(),
        u.password.as_bytes(),
        &flags,
        &[u8::from(u.is_active)],
        // A sub made here stays: only one that comes from upstream is compared.
        upstream_sub.as_deref().unwrap_or("").as_bytes(),
    ]);
    (user, digests)
}

/// Which user fields to write, from the digests' comparison. A `sub` that upstream no longer
/// has is kept.
pub fn user_fields(changed: &[bool], upstream_sub: bool) -> UserFields {
    let at = |i: usize| changed.get(i).copied().unwrap_or(true);
    UserFields {
        username: at(0),
        email: at(1),
        names: at(2),
        password: at(3),
        flags: at(4),
        email_verified: at(5),
        sub: at(6) && upstream_sub,
    }
}

/// A `sub` for a user Open edX never gave a course-less anonymous id: derived from the id under
/// the server key, so that every re-import derives the same one and no one else can.
fn derived_sub(hasher: &SecretHasher, id: i64) -> String {
    hex::encode(&hasher.derive_key("openedx-import-sub", &id.to_string())[..16])
}

/// Why a password hash cannot be verified here, if it cannot: the account is imported all the
/// same (it exists, and a password reset gives it a usable password).
pub fn unverifiable_hash(u: &UserRow) -> Option<String> {
    if u.password.is_empty() {
        return None;
    }
    StoredHash::parse(&u.password).err().map(|e| e.to_string())
}

/// The client an application becomes.
#[derive(Debug)]
pub struct ClientPlan {
    pub client: Client,
    pub digests: String,
    /// Scopes, filters and redirect URIs the export names that Latchkey does not accept.
    pub dropped: Vec<String>,
}

/// Who owns an application, as the second pass resolves it.
pub enum Owner {
    /// Its owner upstream, imported.
    Upstream(UserId),
    /// It has none (or its owner was not imported): the export's first superuser, for a client
    /// that does not act as its owner.
    StandIn(UserId),
    None,
}

pub fn application(
    a: &ApplicationRow,
    facts: &AppFacts,
    owner: Owner,
    registry: &ScopeRegistry,
    hasher: &SecretHasher,
) -> Result<ClientPlan, String> {
    let grant = match a.authorization_grant_type.as_str() {
        "password" => GrantType::Password,
        "client-credentials" => GrantType::ClientCredentials,
        "authorization-code" => GrantType::AuthorizationCode,
        "implicit" => return Err("implicit".into()),
        "openid-hybrid" => return Err("openid-hybrid".into()),
        "urn:ietf:params:oauth:grant-type:device_code" => return Err("device-code".into()),
        other => return Err(format!("unknown grant type {other:?}")),
    };
    let public = match a.client_type.as_str() {
        "public" => true,
        "confidential" => false,
        other => return Err(format!("unknown client type {other:?}")),
    };
    if public && grant == GrantType::ClientCredentials {
        return Err("public client_credentials".into());
    }
    let owner = match (owner, grant) {
        (Owner::Upstream(id), _) => id,
        // client_credentials tokens are its owner's: a stand-in would lend them an identity
        // Open edX never gave (it cannot issue them without an owner either).
        (Owner::StandIn(_) | Owner::None, GrantType::ClientCredentials) => {
            return Err("client_credentials without owner".into())
        }
        (Owner::StandIn(id), _) => id,
        (Owner::None, _) => return Err("no owner and no superuser to own it".into()),
    };
    let Ok(id) = parse_client_id(&a.client_id) else {
        return Err(format!(
            "client id {:?} is not printable ASCII",
            a.client_id
        ));
    };
    let kind = if public {
        ClientKind::Public
    } else if a.client_secret.is_empty() {
        return Err("confidential without secret".into());
    } else if a.hash_client_secret || StoredHash::parse(&a.client_secret).is_ok() {
        // django-oauth-toolkit 2+ keeps a Django password hash of the secret: carried as it is,
        // checked once on the hashing pool and then replaced by the keyed hash.
        match StoredHash::parse(&a.client_secret) {
            Ok(StoredHash::Unusable) | Err(_) => {
                return Err("client secret hash cannot be verified".into())
            }
            Ok(_) => ClientKind::Confidential {
                secret: StoredSecret::Django(a.client_secret.clone()),
                permissions: Default::default(),
            },
        }
    } else {
        ClientKind::Confidential {
            secret: StoredSecret::Keyed(hasher.hash(&a.client_secret)),
            permissions: Default::default(),
        }
    };
    let mut dropped = Vec::new();
    let redirect_uris: Vec<RedirectUri> = a
        .redirect_uris
        .split_whitespace()
        .filter_map(|u| match RedirectUri::try_from(u) {
            Ok(uri) => Some(uri),
            Err(_) => {
                dropped.push(format!("redirect URI {u:?}"));
                None
            }
        })
        .collect();
    if grant == GrantType::AuthorizationCode && redirect_uris.is_empty() {
        return Err("authorization-code without a usable redirect URI".into());
    }
    let scopes: Vec<String> = facts
        .scopes
        .iter()
        .filter(|s| {
            let known = registry.contains(s);
            if !known {
                dropped.push(format!("scope {s:?} (not registered)"));
            }
            known
        })
        .cloned()
        .collect();
    let filters: Vec<String> = facts
        .filters
        .iter()
        .filter_map(|f| match parse_filter(f) {
            Ok(f) => Some(f),
            Err(_) => {
                dropped.push(format!("filter {f:?}"));
                None
            }
        })
        .collect();
    let client = Client {
        id,
        name: a.name.clone(),
        owner,
        kind,
        grant_type: grant,
        redirect_uris,
        scopes,
        filters,
        restricted: facts.restricted,
        skip_authorization: a.skip_authorization,
        lifetimes: Lifetimes::default(),
        created_at: unix_seconds(&a.created).unwrap_or(0),
    };
    let digests = client_digests(&client, &a.client_secret, hasher);
    Ok(ClientPlan {
        client,
        digests,
        dropped,
    })
}

fn client_digests(c: &Client, secret: &str, hasher: &SecretHasher) -> String {
    // Keyed: a digest of the secret alone would be an offline check of a guessed secret.
    let secret = hasher.hash(secret);
    let uris: Vec<&str> = c.redirect_uris.iter().map(RedirectUri::as_str).collect();
    digest::encode(&[
        c.name.as_bytes(),
        &c.owner.0.to_le_bytes(),
        c.grant_type.as_str().as_bytes(),
        uris.join(" ").as_bytes(),
        c.scopes.join(" ").as_bytes(),
        c.filters.join(" ").as_bytes(),
        &[u8::from(c.restricted)],
        &[u8::from(c.skip_authorization)],
        secret.as_bytes(),
    ])
}

/// The scopes an imported token keeps: those of its upstream row that are registered and that
/// the client may hold, plus `user_id` for a password client, as a new grant would have.
pub fn token_scopes(upstream: &str, client: &Client, registry: &ScopeRegistry) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in upstream.split_whitespace() {
        let allowed = DEFAULT_SCOPES.contains(&s)
            || s == OPENID_SCOPE
            || client.scopes.iter().any(|c| c == s);
        if allowed && registry.contains(s) && !scopes.iter().any(|k| k == s) {
            scopes.push(s.to_owned());
        }
    }
    if client.grant_type == GrantType::Password && !scopes.iter().any(|s| s == USER_ID_SCOPE) {
        scopes.push(USER_ID_SCOPE.to_owned());
    }
    scopes
}
