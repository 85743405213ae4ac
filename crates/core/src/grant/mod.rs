//! One file per grant type (RFC 6749 §4.1, §4.3, §4.4, §6). Each file reads its own request from
//! the token endpoint's form and issues its tokens ([`GrantKind`]); [`grants!`] below is the one
//! list of them, from which the dispatch on the wire name, the metric label and discovery's
//! `grant_types_supported` all follow. A new grant is a new file and a line in that list.

mod authorization_code;
mod client_credentials;
mod password;
mod refresh_token;

use std::future::Future;

use latchkey_proto::TokenRequest;

use crate::client::Client;
use crate::error::OAuthError;
use crate::request::AccessFormat;
use crate::store::Store;
use crate::tokens::{Issued, RequestContext, TokenService};

pub use authorization_code::AuthorizationCodeGrant;
pub use client_credentials::ClientCredentialsGrant;
pub use password::PasswordGrant;
pub use refresh_token::RefreshTokenGrant;

/// One grant type: its name on the wire, how its request is read, how it issues tokens.
pub(crate) trait GrantKind: Sized {
    /// The RFC 6749 `grant_type` value.
    const NAME: &'static str;

    /// The fields this grant needs, or `invalid_request` naming the missing one.
    fn parse(req: TokenRequest) -> Result<Self, OAuthError>;

    /// Issues tokens to `client`, which has already authenticated (RFC 6749 §2.3).
    fn issue<S: Store>(
        self,
        tokens: &TokenService<S>,
        client: &Client,
        format: AccessFormat,
        ctx: RequestContext,
    ) -> impl Future<Output = Result<Issued, OAuthError>> + Send;
}

macro_rules! grants {
    ($($variant:ident($kind:ty)),* $(,)?) => {
        /// A token request's grant, validated: one variant per grant type.
        #[derive(Debug)]
        pub enum Grant {
            $($variant($kind)),*
        }

        impl Grant {
            /// Every `grant_type` the token endpoint accepts, for discovery.
            pub const SUPPORTED: &'static [&'static str] = &[$(<$kind as GrantKind>::NAME),*];

            /// The one dispatch on the wire name (`unsupported_grant_type` for any other).
            pub(crate) fn parse(name: &str, req: TokenRequest) -> Result<Self, OAuthError> {
                $(if name == <$kind as GrantKind>::NAME {
                    return Ok(Grant::$variant(<$kind as GrantKind>::parse(req)?));
                })*
                Err(OAuthError::UnsupportedGrantType(name.to_owned()))
            }

            /// The RFC 6749 `grant_type` value, e.g. for metric labels.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Grant::$variant(_) => <$kind as GrantKind>::NAME),*
                }
            }

            pub(crate) async fn issue<S: Store>(
                self,
                tokens: &TokenService<S>,
                client: &Client,
                format: AccessFormat,
                ctx: RequestContext,
            ) -> Result<Issued, OAuthError> {
                match self {
                    $(Grant::$variant(g) => g.issue(tokens, client, format, ctx).await),*
                }
            }
        }
    };
}

grants! {
    AuthorizationCode(AuthorizationCodeGrant),
    Password(PasswordGrant),
    ClientCredentials(ClientCredentialsGrant),
    RefreshToken(RefreshTokenGrant),
}

/// A form field the grant cannot do without; empty counts as missing.
pub(crate) fn required(value: Option<String>, name: &str) -> Result<String, OAuthError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest(format!("missing {name}")))
}
