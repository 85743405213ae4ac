//! Service JWTs (product.md §2): short-lived JWTs for a user with no stored row, marked
//! `token_use: "service"`. The operator mints them with `latchkey token mint`; a client granted
//! [`Permission::TokenMint`] asks `POST /oauth2/mint`, as Open edX's services call the LMS's
//! `create_jwt_for_user` to act for a user without a shell. `docs/design/openedx-migration.md`
//! ("Service JWTs over HTTP") says why it looks the way it does.

use latchkey_proto::MintRequest;
use latchkey_token::AccessClaims;

use crate::client::{Client, Permission};
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::random::hex_id;
use crate::secret::Secret;
use crate::store::Store;
use crate::tokens::{identity_claims, TokenService};
use crate::user::{User, UserId};

/// What a service JWT minted with no scopes carries, as Open edX's `create_jwt_for_user`.
const DEFAULT_SCOPES: [&str; 2] = ["email", "profile"];
/// The lifetime a client gets when it asks for none, as `latchkey token mint`'s default.
pub const DEFAULT_LIFETIME: i64 = 300;
/// `grant_type` of every service JWT: it was granted by no OAuth2 grant.
const GRANT_TYPE: &str = "service";
/// `client_id` of the service JWTs the operator mints: no client asked for them.
const OPERATOR_CLIENT_ID: &str = "latchkey-service";

/// The user a client names: by username, exactly as stored, or by numeric id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserRef {
    Username(String),
    Id(UserId),
}

/// A mint request, parsed: one user, the scopes asked for (`None`: the defaults) and the
/// lifetime asked for (`None`: [`DEFAULT_LIFETIME`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mint {
    pub user: UserRef,
    pub scope: Option<String>,
    pub lifetime: Option<i64>,
}

impl TryFrom<MintRequest> for Mint {
    type Error = OAuthError;

    fn try_from(req: MintRequest) -> Result<Self, OAuthError> {
        let username = req.username.filter(|u| !u.is_empty());
        let user_id = req.user_id.filter(|u| !u.is_empty());
        let user = match (username, user_id) {
            (Some(name), None) => UserRef::Username(name),
            (None, Some(id)) => UserRef::Id(UserId(id.parse().map_err(|_| {
                OAuthError::InvalidRequest(format!("user_id {id:?} is not a whole number"))
            })?)),
            (None, None) => {
                return Err(OAuthError::InvalidRequest(
                    "missing username or user_id".into(),
                ))
            }
            (Some(_), Some(_)) => {
                return Err(OAuthError::InvalidRequest(
                    "name the user by username or by user_id, not both".into(),
                ))
            }
        };
        let lifetime = match req.expires_in.filter(|e| !e.is_empty()) {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| {
                OAuthError::InvalidRequest(format!("expires_in {text:?} is not a whole number"))
            })?),
        };
        Ok(Mint {
            user,
            scope: req.scope.filter(|s| !s.trim().is_empty()),
            lifetime,
        })
    }
}

/// A service JWT minted for a client, with what its token response says.
#[derive(Debug)]
pub struct MintedJwt {
    pub token: Secret,
    pub expires_in: i64,
    pub scopes: Vec<String>,
}

impl<S: Store> TokenService<S> {
    /// A service JWT for `user`, minted by the operator: any registered scopes, any audience.
    /// With no scopes it carries `email profile`.
    pub fn mint_service_jwt(
        &self,
        user: &User,
        scopes: Option<Vec<String>>,
        audience: Option<String>,
        lifetime: i64,
        now: i64,
    ) -> Result<String, OAuthError> {
        let scopes = scopes.unwrap_or_else(|| DEFAULT_SCOPES.map(String::from).to_vec());
        if let Some(bad) = scopes.iter().find(|s| !self.scopes.contains(s)) {
            return Err(crate::scope::ScopeError::Unregistered(bad.clone()).into());
        }
        let mut claims = self.service_claims(user, scopes, lifetime, now)?;
        if let Some(audience) = audience {
            claims.aud = audience;
        }
        claims.client_id = OPERATOR_CLIENT_ID.into();
        Ok(self.keys.signer().sign(&claims)?)
    }

    /// A service JWT for the user a client granted [`Permission::TokenMint`] names. It carries
    /// only scopes that client could get at the token endpoint, the installation's audience, the
    /// client's id, filters and restriction (a restricted client cannot mint its way out of
    /// being restricted), and is audit-logged by its `jti`, never by itself.
    #[tracing::instrument(skip_all, fields(client_id = %client.client().id))]
    pub async fn mint_for_client(
        &self,
        client: &AuthenticatedClient,
        mint: Mint,
        now: i64,
    ) -> Result<MintedJwt, OAuthError> {
        client.require(Permission::TokenMint)?;
        let client = client.client();
        let scopes = match &mint.scope {
            None => DEFAULT_SCOPES.map(String::from).to_vec(),
            Some(list) => self.scopes.allowed(list, client)?,
        };
        let user = self.named_user(&mint.user).await?;
        let lifetime = mint.lifetime.unwrap_or(DEFAULT_LIFETIME);
        let mut claims = self.service_claims(&user, scopes, lifetime, now)?;
        mark_client(&mut claims, client);
        let token = Secret::new(self.keys.signer().sign(&claims)?);
        tracing::info!(target: "audit", client_id = %client.id, user_id = user.id.0,
            jti = %claims.jti, scope = %claims.scopes.join(" "), lifetime,
            "service JWT minted");
        Ok(MintedJwt {
            token,
            expires_in: lifetime,
            scopes: claims.scopes,
        })
    }

    async fn named_user(&self, named: &UserRef) -> Result<User, OAuthError> {
        let found = match named {
            UserRef::Id(id) => self.store.user_by_id(*id).await?,
            // `user_by_login` also finds users by email and by NFKC form; a client names one
            // exactly, as the JWT's `preferred_username` will.
            UserRef::Username(name) => self
                .store
                .user_by_login(name)
                .await?
                .filter(|u| &u.username == name),
        };
        found.ok_or(OAuthError::InvalidGrant("no such user"))
    }

    /// The claims every service JWT shares: the user's by scope, the installation's issuer and
    /// audience, `grant_type: "service"`, `token_use: "service"`, a lifetime within
    /// `tokens.service_jwt_max_lifetime`; refused for a disabled user.
    fn service_claims(
        &self,
        user: &User,
        scopes: Vec<String>,
        lifetime: i64,
        now: i64,
    ) -> Result<AccessClaims, OAuthError> {
        if lifetime < 1 || lifetime > self.settings.service_jwt_max_lifetime {
            return Err(OAuthError::InvalidRequest(format!(
                "lifetime must be between 1 and {} seconds",
                self.settings.service_jwt_max_lifetime
            )));
        }
        if user.disabled {
            return Err(OAuthError::InvalidGrant("the user is disabled"));
        }
        let mut claims = identity_claims(user, scopes);
        claims.iss = self.settings.issuer.clone();
        claims.aud = self.settings.audience.clone();
        claims.exp = now + lifetime;
        claims.iat = now;
        claims.jti = hex_id(self.random.as_ref(), 16);
        claims.grant_type = GRANT_TYPE.into();
        claims.token_use = Some(GRANT_TYPE.into());
        Ok(claims)
    }
}

/// Names the minting client in the claims, with its own filters and restriction: a service JWT
/// must not reach what the client's own tokens could not.
fn mark_client(claims: &mut AccessClaims, client: &Client) {
    claims.client_id = client.id.clone();
    claims.filters = client.filters.clone();
    claims.is_restricted = client.restricted;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(fields: &[(&str, &str)]) -> Result<Mint, OAuthError> {
        let mut req = MintRequest::default();
        for (k, v) in fields {
            let v = Some(v.to_string());
            match *k {
                "username" => req.username = v,
                "user_id" => req.user_id = v,
                "scope" => req.scope = v,
                "expires_in" => req.expires_in = v,
                other => panic!("no field {other}"),
            }
        }
        Mint::try_from(req)
    }

    #[test]
    fn a_request_names_one_user_and_whole_numbers() {
        assert_eq!(
            request(&[("username", "alice"), ("expires_in", "60")]).unwrap(),
            Mint {
                user: UserRef::Username("alice".into()),
                scope: None,
                lifetime: Some(60),
            }
        );
        assert_eq!(
            request(&[("user_id", "42"), ("scope", "email")])
                .unwrap()
                .user,
            UserRef::Id(UserId(42))
        );
        for (fields, says) in [
            (&[][..], "missing username or user_id"),
            (&[("username", "alice"), ("user_id", "42")][..], "not both"),
            (&[("user_id", "4x")][..], "is not a whole number"),
            (
                &[("username", "alice"), ("expires_in", "1.5")][..],
                "is not a whole number",
            ),
        ] {
            let err = request(fields).unwrap_err();
            assert!(
                matches!(&err, OAuthError::InvalidRequest(m) if m.contains(says)),
                "{fields:?}: {err}"
            );
        }
    }
}
