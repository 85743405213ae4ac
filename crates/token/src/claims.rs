//! The claims of a Latchkey access token, compatible with Open edX's JWTs (product.md §2).

use serde::{Deserialize, Deserializer, Serialize};

/// The `version` claim of every token we issue. Open edX verifiers refuse a major version newer
/// than they support.
pub const JWT_VERSION: &str = "1.2.0";

/// Open edX-compatible access-token claims (product.md §2).
///
/// The first block is always present; the second is present by scope (`user_id` with `user_id`,
/// `email` with `email`, the names and flags with `profile`) and omitted from the JSON when
/// `None`. Unknown members are ignored when parsing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer (RFC 7519 §4.1.1), e.g. `https://lms.example.com/oauth2`.
    pub iss: String,
    /// Audience (RFC 7519 §4.1.3); one string, as Open edX issues it.
    pub aud: String,
    /// Expiry, unix seconds (RFC 7519 §4.1.4).
    pub exp: i64,
    /// Issued at, unix seconds (RFC 7519 §4.1.6).
    pub iat: i64,
    /// Unique token id (RFC 7519 §4.1.7).
    pub jti: String,
    /// The user's stable anonymous id, 32 hex characters (RFC 7519 §4.1.2).
    pub sub: String,
    /// The username.
    pub preferred_username: String,
    /// Granted scopes, e.g. `["read", "write", "email", "profile"]`.
    pub scopes: Vec<String>,
    /// The client's filters, e.g. `["user:me", "content_org:MITx"]`.
    pub filters: Vec<String>,
    /// Whether the client is restricted (its tokens are refused unless a route opts in).
    pub is_restricted: bool,
    /// Whether the user's email address is verified; each API decides what that allows.
    pub email_verified: bool,
    /// The client's grant type with hyphens: `password`, `client-credentials`,
    /// `authorization-code`.
    pub grant_type: String,
    /// The claims version, [`JWT_VERSION`].
    pub version: String,
    /// The client the token was issued to.
    pub client_id: String,

    /// The numeric user id; with scope `user_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// With scope `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Full name; with scope `profile`. `Some(None)` is JSON `null`, what Open edX sends for a
    /// user without a profile name: edx-drf-extensions' user sync skips a `null` claim, where an
    /// empty string would overwrite the name a service stored (docs/design/openedx-migration.md,
    /// "Claim parity").
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub name: Option<Option<String>>,
    /// With scope `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// With scope `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Staff flag; with scope `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub administrator: Option<bool>,
    /// Superuser flag; with scope `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superuser: Option<bool>,

    /// Marks service JWTs minted for a user without a stored token row; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_use: Option<String>,
}

/// A member that may be `null`: present (`null` included) is `Some`, absent stays `None` through
/// `#[serde(default)]`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The claims of an OpenID Connect ID token (OpenID Connect Core §2): who signed in, for which
/// client, when; identity claims by scope as in [`AccessClaims`]. Unknown members are ignored
/// when parsing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdClaims {
    /// Issuer: the same as access tokens'.
    pub iss: String,
    /// The user's stable anonymous id.
    pub sub: String,
    /// The client the ID token is for: its `client_id` (OpenID Connect Core §2).
    pub aud: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// When the user last authenticated, unix seconds.
    pub auth_time: i64,
    /// The `nonce` of the authorization request, unchanged; absent when it sent none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The username; with scope `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// With scope `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// With scope `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Full name; with scope `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// With scope `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// With scope `profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;

    /// A password-grant token's claims without the scoped members; other modules' tests use it.
    pub(crate) fn claims() -> AccessClaims {
        AccessClaims {
            iss: "https://lms.example.com/oauth2".into(),
            aud: "openedx".into(),
            exp: 1_700_003_600,
            iat: 1_700_000_000,
            jti: "5c2b1a".into(),
            sub: "0123456789abcdef0123456789abcdef".into(),
            preferred_username: "honor".into(),
            scopes: vec!["read".into(), "write".into()],
            filters: vec!["user:me".into()],
            is_restricted: false,
            email_verified: true,
            grant_type: "password".into(),
            version: JWT_VERSION.into(),
            client_id: "login-service-client-id".into(),
            user_id: None,
            email: None,
            name: None,
            given_name: None,
            family_name: None,
            administrator: None,
            superuser: None,
            token_use: None,
        }
    }

    #[test]
    fn scoped_claims_are_omitted_when_absent() {
        let json = serde_json::to_value(claims()).unwrap();
        let object = json.as_object().unwrap();
        for absent in [
            "user_id",
            "email",
            "name",
            "given_name",
            "family_name",
            "administrator",
            "superuser",
            "token_use",
        ] {
            assert!(!object.contains_key(absent), "{absent}");
        }
        assert_eq!(object.len(), 14);
        assert_eq!(json["version"], "1.2.0");
        assert_eq!(json["filters"], serde_json::json!(["user:me"]));
    }

    #[test]
    fn scoped_claims_round_trip_with_open_edx_names() {
        let mut full = claims();
        full.user_id = Some(42);
        full.email = Some("honor@example.com".into());
        full.name = Some(Some("Honor Code".into()));
        full.given_name = Some("Honor".into());
        full.family_name = Some("Code".into());
        full.administrator = Some(false);
        full.superuser = Some(false);
        full.token_use = Some("service".into());
        let json = serde_json::to_value(&full).unwrap();
        assert_eq!(json["user_id"], 42);
        assert_eq!(json["administrator"], false);
        assert_eq!(serde_json::from_value::<AccessClaims>(json).unwrap(), full);
    }

    #[test]
    fn a_null_name_stays_apart_from_an_absent_one() {
        let mut nameless = claims();
        nameless.name = Some(None);
        let json = serde_json::to_value(&nameless).unwrap();
        assert!(json.as_object().unwrap().contains_key("name"));
        assert_eq!(json["name"], serde_json::Value::Null);
        assert_eq!(
            serde_json::from_value::<AccessClaims>(json).unwrap(),
            nameless
        );
        let without = serde_json::to_value(claims()).unwrap();
        assert_eq!(
            serde_json::from_value::<AccessClaims>(without)
                .unwrap()
                .name,
            None
        );
    }
}
