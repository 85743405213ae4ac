//! The authorization endpoint's decisions (RFC 6749 §4.1.1-§4.1.2, RFC 7636, OpenID Connect Core
//! §3.1.2): whether a request is valid and where its errors may be sent, whether the user must be
//! asked, and the code issued once they agreed. Sessions and pages are the server's; see
//! docs/design/authorization-code.md for the choices.

mod consent;
mod pkce;

use std::sync::Arc;

use latchkey_proto::{AuthorizeRequest, ErrorCode};

pub use consent::Consented;
pub(crate) use pkce::check as check_pkce;
pub use pkce::{CodeChallenge, PkceError};

use crate::client::{Client, GrantType};
use crate::error::{InternalError, OAuthError};
use crate::random::secret_token;
use crate::secret::Secret;
use crate::store::{CodeRow, Store, StoreError};
use crate::tokens::TokenService;

/// Seconds a code may wait for its exchange. RFC 6749 §4.1.2 says at most ten minutes; a client
/// exchanges its code at once, so a minute is plenty and leaves a stolen code little time.
pub const CODE_LIFETIME: i64 = 60;

/// Seconds a code's row outlives its expiry, so that a late replay still finds what the first
/// exchange issued and revokes it (RFC 6749 §4.1.2).
pub const CODE_MEMORY: i64 = 3600;

/// Longest `nonce` kept: it is stored with the code and copied into the ID token.
const MAX_NONCE: usize = 512;

/// A valid authorization request: the client, where to send the user back, and what was asked.
#[derive(Clone, Debug)]
pub struct Authorization {
    pub client: Arc<Client>,
    /// One of the client's registered URIs, exactly as registered.
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub challenge: Option<CodeChallenge>,
    pub nonce: Option<String>,
}

/// Why an authorization request is refused, and so where the user is told (RFC 6749 §4.1.2.1).
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// The client or its redirect URI cannot be trusted: shown on our own page, never redirected
    /// (an open redirector otherwise).
    #[error(transparent)]
    Page(#[from] PageError),
    /// Sent back to the client at its verified redirect URI.
    #[error("{}", .0.description)]
    Redirect(RedirectError),
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("the request does not name an application (client_id is missing)")]
    MissingClient,
    #[error("this application is not known here")]
    UnknownClient,
    #[error("the request does not say where to return (redirect_uri is missing)")]
    MissingRedirectUri,
    #[error("the return address is not one this application registered")]
    UnregisteredRedirectUri,
    #[error("internal error")]
    Internal(#[source] InternalError),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::Internal(e.into())
    }
}

/// An error for the client, sent to its redirect URI with the request's `state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectError {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub error: ErrorCode,
    pub description: String,
}

impl RedirectError {
    /// Where to send the user: the redirect URI with `error`, `error_description` and `state`
    /// added to its query (RFC 6749 §4.1.2.1).
    pub fn location(&self) -> String {
        let mut params = vec![
            ("error", self.error.as_str()),
            ("error_description", self.description.as_str()),
        ];
        if let Some(state) = &self.state {
            params.push(("state", state));
        }
        with_query(&self.redirect_uri, &params)
    }
}

/// `uri` with `params` appended to its query, form-encoded (RFC 6749 §4.1.2, Appendix B); a
/// registered URI's own query is kept (RFC 6749 §3.1.2).
fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params);
            url.to_string()
        }
        // Registered URIs are parsed when saved, so this is a row changed behind our back:
        // append by hand rather than lose the answer.
        Err(_) => {
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish();
            let sep = if uri.contains('?') { '&' } else { '?' };
            format!("{uri}{sep}{encoded}")
        }
    }
}

impl Authorization {
    /// Where to send the user with a fresh code: the redirect URI with `code` and `state`
    /// (RFC 6749 §4.1.2).
    pub fn code_location(&self, code: &Secret) -> String {
        let mut params = vec![("code", code.expose())];
        if let Some(state) = &self.state {
            params.push(("state", state));
        }
        with_query(&self.redirect_uri, &params)
    }

    /// The user said no (RFC 6749 §4.1.2.1 `access_denied`).
    pub fn denied(&self) -> RedirectError {
        self.error(ErrorCode::AccessDenied, "the user denied the request")
    }

    /// An error for this request's client, at its redirect URI with its `state`.
    pub fn error(&self, error: ErrorCode, description: impl Into<String>) -> RedirectError {
        RedirectError {
            redirect_uri: self.redirect_uri.clone(),
            state: self.state.clone(),
            error,
            description: description.into(),
        }
    }
}

impl<S: Store> TokenService<S> {
    /// Validates an authorization request. The client and the redirect URI are checked first:
    /// until both are known good, every error is a [`PageError`]; after, a [`RedirectError`].
    pub async fn authorize(&self, req: AuthorizeRequest) -> Result<Authorization, AuthorizeError> {
        let client_id = req
            .client_id
            .filter(|c| !c.is_empty())
            .ok_or(PageError::MissingClient)?;
        let client = self
            .client(&client_id)
            .await
            .map_err(PageError::from)?
            .ok_or(PageError::UnknownClient)?;
        let redirect_uri = req
            .redirect_uri
            .filter(|u| !u.is_empty())
            .ok_or(PageError::MissingRedirectUri)?;
        // Exact string match (RFC 6749 §3.1.2.3, OAuth 2.1 §2.3.1): no extra path, query or
        // fragment, no normalisation.
        if !client
            .redirect_uris
            .iter()
            .any(|u| u.as_str() == redirect_uri)
        {
            return Err(PageError::UnregisteredRedirectUri.into());
        }
        let fail = |error: ErrorCode, description: String| {
            AuthorizeError::Redirect(RedirectError {
                redirect_uri: redirect_uri.clone(),
                state: req.state.clone(),
                error,
                description,
            })
        };
        match req.response_type.as_deref() {
            Some("code") => {}
            None | Some("") => {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "missing response_type".into(),
                ))
            }
            Some(other) => {
                return Err(fail(
                    ErrorCode::UnsupportedResponseType,
                    format!("response_type {other:?} is not supported: only code is"),
                ))
            }
        }
        if client.grant_type != GrantType::AuthorizationCode {
            return Err(fail(
                ErrorCode::UnauthorizedClient,
                format!(
                    "this client is registered for the {} grant, not authorization_code",
                    client.grant_type.oauth_name()
                ),
            ));
        }
        let challenge = CodeChallenge::parse(
            req.code_challenge.as_deref(),
            req.code_challenge_method.as_deref(),
        )
        .map_err(|e| fail(ErrorCode::InvalidRequest, e.to_string()))?;
        if challenge.is_none() && client.is_public() {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "a public client must send a PKCE code_challenge (S256)".into(),
            ));
        }
        let scopes = self
            .scopes
            .resolve(req.scope.as_deref(), &client)
            .map_err(|e| fail(ErrorCode::InvalidScope, e.to_string()))?;
        let nonce = req.nonce.filter(|n| !n.is_empty());
        if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
            return Err(fail(
                ErrorCode::InvalidRequest,
                format!("nonce is longer than {MAX_NONCE} bytes"),
            ));
        }
        Ok(Authorization {
            client,
            redirect_uri: redirect_uri.clone(),
            state: req.state.clone(),
            scopes,
            challenge,
            nonce,
        })
    }

    /// Issues a code for what the user consented to: random, single-use, [`CODE_LIFETIME`]
    /// seconds, stored only as its keyed hash with everything it is bound to. `auth_time` is when
    /// the user signed in.
    pub async fn issue_code(
        &self,
        consented: &Consented<'_>,
        auth_time: i64,
        now: i64,
    ) -> Result<Secret, OAuthError> {
        let (auth, user) = (consented.authorization(), consented.user());
        let code = secret_token(self.random.as_ref());
        self.store
            .insert_code(&CodeRow {
                hash: self.hasher.hash(code.expose()),
                client_id: auth.client.id.clone(),
                user_id: user.id,
                redirect_uri: auth.redirect_uri.clone(),
                scopes: auth.scopes.clone(),
                code_challenge: auth.challenge.as_ref().map(|c| c.as_str().to_owned()),
                nonce: auth.nonce.clone(),
                auth_time,
                issued_at: now,
                expires_at: now + CODE_LIFETIME,
                used_at: None,
                family_id: None,
            })
            .await?;
        Ok(code)
    }

    /// Removes codes whose replay no longer needs detecting, at most `batch`; the janitor's.
    pub async fn purge_codes(&self, now: i64, batch: u32) -> Result<u64, StoreError> {
        self.store.purge_codes(now - CODE_MEMORY, batch).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_at(uri: &str, state: Option<&str>) -> RedirectError {
        RedirectError {
            redirect_uri: uri.into(),
            state: state.map(str::to_owned),
            error: ErrorCode::AccessDenied,
            description: "the user denied the request".into(),
        }
    }

    #[test]
    fn errors_keep_the_registered_query_and_encode_what_they_add() {
        assert_eq!(
            error_at("https://app.example.org/cb?tenant=a", Some("x y&z")).location(),
            "https://app.example.org/cb?tenant=a&error=access_denied\
             &error_description=the+user+denied+the+request&state=x+y%26z"
        );
        assert_eq!(
            error_at("com.example.app:/oauth2redirect", None).location(),
            "com.example.app:/oauth2redirect?error=access_denied\
             &error_description=the+user+denied+the+request",
            "a native app's private-use scheme; no state, none sent back"
        );
    }
}
