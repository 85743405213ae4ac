//! The credential parsers, reachable without a request, for the fuzz targets in `fuzz/`. Every
//! function takes arbitrary bytes and must return, never panic. Hidden from the docs: not a
//! stable API.

use latchkey_token::Header;

use crate::config::CookieConfig;
use crate::credentials::{self, CredentialError};

pub use crate::credentials::Presented;

/// One `Authorization` header value: `JWT <jwt>`, `Bearer <jwt or opaque>`, or not ours.
pub fn parse_authorization(value: &[u8]) -> Result<Option<Presented>, CredentialError> {
    credentials::parse_authorization(value)
}

/// One `Cookie` header value: the default JWT cookie pair, reassembled, when both are present.
pub fn parse_cookie_pair(cookie_header: &[u8]) -> Result<Option<String>, CredentialError> {
    let names = CookieConfig::default();
    let [header_payload, signature] = credentials::find_cookies(
        std::iter::once(cookie_header),
        [&names.header_payload, &names.signature],
    );
    match (header_payload, signature) {
        (Some(hp), Some(sig)) => credentials::reassemble(hp, sig).map(Some),
        _ => Ok(None),
    }
}

/// A JWT in compact form: the guard's shape check, then the header decoding verification starts
/// with. Both must agree that a token they accept has three parts.
pub fn parse_compact(token: &[u8]) -> Result<Header, CredentialError> {
    let token = std::str::from_utf8(token).map_err(|_| CredentialError::MalformedJwt)?;
    credentials::check_compact(token)?;
    latchkey_token::decode_header(token).map_err(|_| CredentialError::MalformedJwt)
}

/// The CSRF comparison of a header value with a cookie value.
pub fn csrf_tokens_match(header: &[u8], cookie: &[u8]) -> bool {
    let mut headers = axum::http::HeaderMap::new();
    let Ok(value) = axum::http::HeaderValue::from_bytes(header) else {
        return false;
    };
    let Ok(cookie) = std::str::from_utf8(cookie) else {
        return false;
    };
    let name = axum::http::HeaderName::from_static("x-csrftoken");
    headers.insert(name.clone(), value);
    crate::csrf::check(&headers, &name, Some(cookie)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_odd_input() {
        for input in [
            &b""[..],
            b"Bearer",
            b"Bearer \xff\xfe",
            b"JWT ...",
            b"\x00\x01",
            b"edx-jwt-cookie-header-payload=a.b; edx-jwt-cookie-signature=c",
            b"edx-jwt-cookie-header-payload=\"; edx-jwt-cookie-signature=\"",
        ] {
            let _ = parse_authorization(input);
            let _ = parse_cookie_pair(input);
            let _ = parse_compact(input);
            let _ = csrf_tokens_match(input, input);
        }
        assert_eq!(
            parse_cookie_pair(b"edx-jwt-cookie-header-payload=a.b; edx-jwt-cookie-signature=c"),
            Ok(Some("a.b.c".into()))
        );
        assert!(parse_compact(b"eyJhbGciOiJFUzI1NiIsImtpZCI6ImsifQ.e30.c2ln").is_ok());
    }
}
