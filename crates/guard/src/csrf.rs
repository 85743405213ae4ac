//! CSRF protection for requests authenticated by the JWT cookies (see docs/design/guard.md).
//!
//! Cookies are sent by the browser whoever made the page, so a cookie-authenticated request with
//! an unsafe method must prove it comes from our own front end: it repeats the CSRF cookie's value
//! in a header (Django's double-submit, which Open edX MFEs already do: `X-CSRFToken` against
//! `csrftoken`). A page on another origin can neither read the cookie nor, without a CORS
//! preflight that the API refuses, send the custom header. Requests authenticated by the
//! `Authorization` header need no such check: a browser never adds that header by itself.

use axum::http::{HeaderMap, Method};
use subtle::ConstantTimeEq;

/// Why a cookie-authenticated unsafe request was refused. The messages are Django's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsrfFailure {
    /// The CSRF cookie is absent.
    CookieNotSet,
    /// The CSRF header is absent.
    TokenMissing,
    /// The header does not match the cookie.
    TokenIncorrect,
}

impl CsrfFailure {
    /// Django's reason text (`django.middleware.csrf`).
    pub fn reason(self) -> &'static str {
        match self {
            CsrfFailure::CookieNotSet => "CSRF cookie not set.",
            CsrfFailure::TokenMissing => "CSRF token missing.",
            CsrfFailure::TokenIncorrect => "CSRF token incorrect.",
        }
    }
}

/// RFC 9110 §9.2.1: GET, HEAD, OPTIONS and TRACE are safe and need no proof.
pub(crate) fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The double-submit check of an unsafe, cookie-authenticated request.
pub(crate) fn check(
    headers: &HeaderMap,
    header_name: &axum::http::HeaderName,
    cookie: Option<&str>,
) -> Result<(), CsrfFailure> {
    let cookie = cookie
        .filter(|c| !c.is_empty())
        .ok_or(CsrfFailure::CookieNotSet)?;
    let header = headers
        .get(header_name)
        .map(|h| h.as_bytes())
        .filter(|h| !h.is_empty())
        .ok_or(CsrfFailure::TokenMissing)?;
    if tokens_match(header, cookie.as_bytes()) {
        Ok(())
    } else {
        Err(CsrfFailure::TokenIncorrect)
    }
}

/// Equal as given, or equal as Django secrets (a 64-character token is a masked form of the
/// 32-character secret, `django.middleware.csrf._unmask_cipher_token`). Compared in constant time.
fn tokens_match(header: &[u8], cookie: &[u8]) -> bool {
    if bool::from(header.ct_eq(cookie)) {
        return true;
    }
    match (django_secret(header), django_secret(cookie)) {
        (Some(a), Some(b)) => bool::from(a.ct_eq(&b)),
        _ => false,
    }
}

const CSRF_SECRET_LENGTH: usize = 32;
const CSRF_ALLOWED_CHARS: &[u8; 62] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn char_index(c: u8) -> Option<usize> {
    CSRF_ALLOWED_CHARS.iter().position(|&a| a == c)
}

/// The 32-character secret of a Django CSRF token (the secret itself, or a masked 64-character
/// token: `mask || cipher` with `cipher[i] = chars[(idx(secret[i]) + idx(mask[i])) mod 62]`).
fn django_secret(token: &[u8]) -> Option<[u8; CSRF_SECRET_LENGTH]> {
    let mut secret = [0u8; CSRF_SECRET_LENGTH];
    match token.len() {
        CSRF_SECRET_LENGTH => {
            for (out, &c) in secret.iter_mut().zip(token) {
                char_index(c)?;
                *out = c;
            }
        }
        64 => {
            let (mask, cipher) = token.split_at(CSRF_SECRET_LENGTH);
            for (out, (&m, &c)) in secret.iter_mut().zip(mask.iter().zip(cipher)) {
                let (m, c) = (char_index(m)?, char_index(c)?);
                *out = CSRF_ALLOWED_CHARS[(c + 62 - m) % 62];
            }
        }
        _ => return None,
    }
    Some(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};

    const SECRET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef";

    fn mask(secret: &str, mask: &str) -> String {
        let idx = |c: u8| char_index(c).unwrap();
        let cipher: String = secret
            .bytes()
            .zip(mask.bytes())
            .map(|(s, m)| CSRF_ALLOWED_CHARS[(idx(s) + idx(m)) % 62] as char)
            .collect();
        format!("{mask}{cipher}")
    }

    fn headers(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-csrftoken", HeaderValue::from_str(token).unwrap());
        h
    }

    fn name() -> HeaderName {
        HeaderName::from_static("x-csrftoken")
    }

    #[test]
    fn safe_methods() {
        assert!(is_safe(&Method::GET) && is_safe(&Method::HEAD) && is_safe(&Method::OPTIONS));
        assert!(!is_safe(&Method::POST) && !is_safe(&Method::DELETE) && !is_safe(&Method::PATCH));
    }

    #[test]
    fn double_submit() {
        assert_eq!(
            check(&headers("any-token"), &name(), Some("any-token")),
            Ok(())
        );
        assert_eq!(
            check(&headers("other"), &name(), Some("any-token")),
            Err(CsrfFailure::TokenIncorrect)
        );
        assert_eq!(
            check(&HeaderMap::new(), &name(), Some("t")),
            Err(CsrfFailure::TokenMissing)
        );
        assert_eq!(
            check(&headers("t"), &name(), None),
            Err(CsrfFailure::CookieNotSet)
        );
        assert_eq!(
            check(&headers("t"), &name(), Some("")),
            Err(CsrfFailure::CookieNotSet)
        );
    }

    #[test]
    fn django_masked_tokens_match_their_secret() {
        let masked = mask(SECRET, "zyxwvutsrqponmlkjihgfedcba987654");
        assert_eq!(masked.len(), 64);
        assert_eq!(check(&headers(&masked), &name(), Some(SECRET)), Ok(()));
        let other = mask(SECRET, "0123456789abcdefghijklmnopqrstuv");
        // Two different maskings of one secret, as an old Django cookie and a new header.
        assert_eq!(check(&headers(&masked), &name(), Some(&other)), Ok(()));
        let wrong = mask(
            "BBCDEFGHIJKLMNOPQRSTUVWXYZabcdef",
            "zyxwvutsrqponmlkjihgfedcba987654",
        );
        assert_eq!(
            check(&headers(&wrong), &name(), Some(SECRET)),
            Err(CsrfFailure::TokenIncorrect)
        );
        assert_eq!(django_secret(b"not-32-or-64"), None);
        assert_eq!(django_secret(&[b'-'; 32]), None);
    }
}
