//! The token endpoint's form, parsed into a validated grant (parse, don't validate).

use latchkey_proto::TokenRequest;

use crate::error::OAuthError;
pub use crate::grant::Grant;

/// The access token's form. JWT is what Open edX clients ask for with `token_type=jwt`; opaque
/// bearer tokens remain for legacy clients and are deprecated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AccessFormat {
    Jwt,
    Opaque,
}

impl AccessFormat {
    /// The `token_type` of the response.
    pub fn token_type(self) -> &'static str {
        match self {
            AccessFormat::Jwt => latchkey_proto::TOKEN_TYPE_JWT,
            AccessFormat::Opaque => latchkey_proto::TOKEN_TYPE_BEARER,
        }
    }
}

#[derive(Debug)]
pub struct TokenGrant {
    pub grant: Grant,
    pub format: AccessFormat,
}

impl TokenGrant {
    /// `header_token_type` is the `X-Token-Type` header, which Open edX accepts as well as the field.
    pub fn parse(
        mut req: TokenRequest,
        header_token_type: Option<&str>,
    ) -> Result<Self, OAuthError> {
        let format = match req.token_type.as_deref().or(header_token_type) {
            Some(t) if t.eq_ignore_ascii_case("jwt") => AccessFormat::Jwt,
            _ => AccessFormat::Opaque,
        };
        let grant_type = req
            .grant_type
            .take()
            .filter(|g| !g.is_empty())
            .ok_or_else(|| OAuthError::InvalidRequest("missing grant_type".into()))?;
        let grant = Grant::parse(&grant_type, req)?;
        Ok(TokenGrant { grant, format })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(grant: &str) -> TokenRequest {
        TokenRequest {
            grant_type: Some(grant.into()),
            ..TokenRequest::default()
        }
    }

    #[test]
    fn token_type_comes_from_the_field_or_the_header_in_any_case() {
        let mut r = req("client_credentials");
        r.token_type = Some("JwT".into());
        assert_eq!(
            TokenGrant::parse(r, None).unwrap().format,
            AccessFormat::Jwt
        );
        let r = req("client_credentials");
        assert_eq!(
            TokenGrant::parse(r, Some("jwt")).unwrap().format,
            AccessFormat::Jwt
        );
        let r = req("client_credentials");
        assert_eq!(
            TokenGrant::parse(r, None).unwrap().format,
            AccessFormat::Opaque
        );
    }

    #[test]
    fn missing_fields_name_themselves() {
        let err = TokenGrant::parse(req("password"), None).unwrap_err();
        assert_eq!(err.to_string(), "missing username");
        let err = TokenGrant::parse(TokenRequest::default(), None).unwrap_err();
        assert_eq!(err.to_string(), "missing grant_type");
        let err = TokenGrant::parse(req("implicit"), None).unwrap_err();
        assert!(matches!(err, OAuthError::UnsupportedGrantType(g) if g == "implicit"));
    }
}
