//! The token service: runs grants, issues access and refresh tokens, revokes and introspects.
//! The grants themselves live one per file under `grant/`.

use std::sync::Arc;

use latchkey_token::{AccessClaims, JWT_VERSION};

use crate::client::Client;
use crate::client_auth::{AuthenticatedClient, ClientCredentials};
use crate::directory::Directory;
use crate::error::OAuthError;
use crate::introspect::IntrospectionCache;
use crate::keys::KeyRing;
use crate::random::{hex_id, secret_token, Random};
use crate::request::{AccessFormat, TokenGrant};
use crate::scope::{ScopeRegistry, USER_ID_SCOPE};
use crate::secret::{Secret, SecretHasher};
use crate::signin::SignIn;
use crate::store::{AccessTokenRow, Store};
use crate::user::{User, UserId};

/// When a restricted client's opaque access token expires: the epoch, as in Open edX.
const EXPIRED_AT_ISSUE: i64 = 0;

/// Token lifetimes and identity of the issuer; per-client lifetimes override the first three.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub jwt_lifetime: i64,
    pub opaque_lifetime: i64,
    pub refresh_lifetime: i64,
    /// Optional cap on a refresh family's whole life, whatever the rotations.
    pub refresh_family_lifetime: Option<i64>,
    /// How long a rotated refresh token still yields its successor instead of killing the family.
    pub refresh_grace: i64,
    pub service_jwt_max_lifetime: i64,
    /// How long a client row is reused before it is read again (changes made elsewhere show up
    /// within this time).
    pub client_cache_ttl: std::time::Duration,
    /// How long an introspection answer for an active access token is reused; revocations made on
    /// this node apply at once, others within this time. Zero turns the cache off.
    pub introspection_cache_ttl: std::time::Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            issuer: "http://127.0.0.1:8000/oauth2".into(),
            audience: "latchkey".into(),
            jwt_lifetime: 3600,
            opaque_lifetime: 36_000,
            refresh_lifetime: 14 * 24 * 3600,
            refresh_family_lifetime: None,
            refresh_grace: 10,
            service_jwt_max_lifetime: 3600,
            client_cache_ttl: std::time::Duration::from_secs(5),
            introspection_cache_ttl: std::time::Duration::from_secs(2),
        }
    }
}

/// Tokens a grant issued. `refresh_token` is absent for client_credentials; `id_token` is
/// present only for an authorization code granted with the `openid` scope.
#[derive(Debug)]
pub struct Issued {
    pub access_token: Secret,
    pub format: AccessFormat,
    pub expires_in: i64,
    pub scopes: Vec<String>,
    pub refresh_token: Option<Secret>,
    pub id_token: Option<Secret>,
}

/// Where a request comes from, for throttling and audit; `now` is unix seconds.
#[derive(Clone, Copy, Debug)]
pub struct RequestContext {
    pub now: i64,
    pub ip: Option<std::net::IpAddr>,
}

pub struct TokenService<S> {
    pub(crate) store: Arc<S>,
    pub(crate) keys: Arc<KeyRing>,
    pub(crate) hasher: SecretHasher,
    pub(crate) sign_in: Arc<SignIn<S>>,
    pub(crate) scopes: ScopeRegistry,
    pub(crate) settings: TokenSettings,
    pub(crate) random: Arc<dyn Random>,
    /// Clients and owners, read through their caches.
    pub(crate) directory: Directory<S>,
    pub(crate) introspected: IntrospectionCache,
    /// What a JWT of ours must satisfy, built once: introspection and revocation check it per call.
    pub(crate) validation: latchkey_token::Validation,
}

/// An access token about to be issued, before it takes its form.
pub(crate) struct AccessGrant<'a> {
    pub client: &'a Client,
    pub user: &'a User,
    pub scopes: Vec<String>,
    pub format: AccessFormat,
    pub family_id: Option<String>,
}

/// The access token in its final form, and the row that must be stored for it (opaque only).
pub(crate) struct MintedAccess {
    pub token: Secret,
    pub jti: String,
    pub expires_at: i64,
    pub expires_in: i64,
    pub row: Option<AccessTokenRow>,
}

impl<S: Store> TokenService<S> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<S>,
        keys: Arc<KeyRing>,
        hasher: SecretHasher,
        sign_in: Arc<SignIn<S>>,
        scopes: ScopeRegistry,
        settings: TokenSettings,
        random: Arc<dyn Random>,
    ) -> Self {
        TokenService {
            directory: Directory::new(store.clone(), settings.client_cache_ttl),
            introspected: IntrospectionCache::new(settings.introspection_cache_ttl),
            validation: latchkey_token::Validation::new(
                settings.issuer.clone(),
                settings.audience.clone(),
            ),
            store,
            keys,
            hasher,
            sign_in,
            scopes,
            settings,
            random,
        }
    }

    /// A client by id, with its row cached briefly.
    pub(crate) async fn client(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<Client>>, crate::store::StoreError> {
        self.directory.client(client_id).await
    }

    /// The user a client_credentials client acts as, cached like the client.
    pub(crate) async fn owner(
        &self,
        id: UserId,
    ) -> Result<Option<Arc<User>>, crate::store::StoreError> {
        self.directory.owner(id).await
    }

    /// RFC 6749 §2.3 client authentication, with the client row cached briefly.
    pub async fn authenticate(
        &self,
        creds: &ClientCredentials,
    ) -> Result<AuthenticatedClient, OAuthError> {
        self.directory
            .authenticate(&self.hasher, self.sign_in.passwords(), creds)
            .await
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    pub fn scopes(&self) -> &ScopeRegistry {
        &self.scopes
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Does the database answer? (Readiness.)
    pub async fn ping(&self) -> Result<(), crate::store::StoreError> {
        self.store.ping().await
    }

    pub fn sign_in(&self) -> &SignIn<S> {
        &self.sign_in
    }

    /// Runs one grant for an authenticated client.
    #[tracing::instrument(skip_all, fields(client_id = %client.client().id))]
    pub async fn grant(
        &self,
        client: &AuthenticatedClient,
        request: TokenGrant,
        ctx: RequestContext,
    ) -> Result<Issued, OAuthError> {
        request
            .grant
            .issue(self, client.client(), request.format, ctx)
            .await
    }

    /// The client must be registered for `grant`, or the request is `unauthorized_client`.
    pub(crate) fn require_grant_type(
        client: &Client,
        grant: crate::client::GrantType,
    ) -> Result<(), OAuthError> {
        if client.grant_type == grant {
            Ok(())
        } else {
            Err(OAuthError::UnauthorizedClient(format!(
                "this client is registered for the {} grant, not {}",
                client.grant_type.oauth_name(),
                grant.oauth_name()
            )))
        }
    }

    /// Gives the access token its form: a signed JWT, or an opaque string and its stored row.
    pub(crate) fn mint_access(
        &self,
        grant: &AccessGrant<'_>,
        now: i64,
    ) -> Result<MintedAccess, OAuthError> {
        let jti = hex_id(self.random.as_ref(), 16);
        match grant.format {
            AccessFormat::Jwt => {
                let lifetime = grant
                    .client
                    .lifetimes
                    .jwt
                    .unwrap_or(self.settings.jwt_lifetime);
                let claims = self.claims(grant, &jti, now, lifetime);
                let token = self.keys.signer().sign(&claims)?;
                Ok(MintedAccess {
                    token: Secret::new(token),
                    jti,
                    expires_at: now + lifetime,
                    expires_in: lifetime,
                    row: None,
                })
            }
            AccessFormat::Opaque => {
                let lifetime = grant
                    .client
                    .lifetimes
                    .opaque
                    .unwrap_or(self.settings.opaque_lifetime);
                // Open edX stores a restricted application's opaque token as expired at the epoch
                // (`RestrictedApplication.should_expire_access_token`) and answers with the
                // negative `expires_in` that makes: the client learns who signed in and gets a
                // refresh token, but no API accepts the access token. Its JWTs are not expired.
                let expires_at = if grant.client.restricted {
                    EXPIRED_AT_ISSUE
                } else {
                    now + lifetime
                };
                let token = secret_token(self.random.as_ref());
                let row = AccessTokenRow {
                    hash: self.hasher.hash(token.expose()),
                    jti: jti.clone(),
                    client_id: grant.client.id.clone(),
                    user_id: grant.user.id,
                    scopes: grant.scopes.clone(),
                    issued_at: now,
                    expires_at,
                    family_id: grant.family_id.clone(),
                    revoked: false,
                };
                Ok(MintedAccess {
                    token,
                    jti,
                    expires_at,
                    expires_in: expires_at - now,
                    row: Some(row),
                })
            }
        }
    }

    /// The Open edX claim set (product.md §2) for an access token issued to a client.
    pub(crate) fn claims(
        &self,
        grant: &AccessGrant<'_>,
        jti: &str,
        now: i64,
        lifetime: i64,
    ) -> AccessClaims {
        let mut claims = identity_claims(grant.user, grant.scopes.clone());
        claims.iss = self.settings.issuer.clone();
        claims.aud = self.settings.audience.clone();
        claims.exp = now + lifetime;
        claims.iat = now;
        claims.jti = jti.to_owned();
        claims.filters = grant.client.token_filters();
        claims.is_restricted = grant.client.restricted;
        claims.grant_type = grant.client.grant_type.as_str().to_owned();
        claims.client_id = grant.client.id.clone();
        claims
    }
}

/// The claims that describe the user, by scope: identity only, never policy. The caller fills in
/// who issued the token, for whom and until when.
pub(crate) fn identity_claims(user: &User, scopes: Vec<String>) -> AccessClaims {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let profile = has("profile");
    AccessClaims {
        iss: String::new(),
        aud: String::new(),
        exp: 0,
        iat: 0,
        jti: String::new(),
        sub: user.sub.clone(),
        preferred_username: user.username.clone(),
        filters: vec![],
        is_restricted: false,
        email_verified: user.email_verified,
        grant_type: String::new(),
        version: JWT_VERSION.to_owned(),
        client_id: String::new(),
        user_id: has(USER_ID_SCOPE).then_some(user.id.0),
        email: has("email").then(|| user.email.clone()),
        // `null` rather than "" for a user without a name: see `AccessClaims::name`.
        name: profile.then(|| Some(user.name.clone()).filter(|n| !n.trim().is_empty())),
        given_name: profile.then(|| user.given_name.clone()),
        family_name: profile.then(|| user.family_name.clone()),
        administrator: profile.then_some(user.is_staff),
        superuser: profile.then_some(user.is_superuser),
        token_use: None,
        scopes,
    }
}
