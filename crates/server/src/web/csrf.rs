//! CSRF protection as Django's double submit, so that frontend-platform and any Django-aware
//! client work unchanged: a secret in the `csrftoken` cookie, and on every unsafe request that a
//! cookie authenticates the same secret in the `X-CSRFToken` header or, from an HTML form, the
//! `csrfmiddlewaretoken` field. Tokens handed out are masked as Django masks them (a fresh
//! one-time pad each time, BREACH), and either form is accepted. An `Origin` header, when the
//! browser sends a real one, must be ours or a configured MFE's (Django 4's origin check); our own
//! pages send `Origin: null` under `Referrer-Policy: no-referrer`, which says nothing either way.
//! `docs/design/browser-sessions.md` says more.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_core::random::alphanumeric;
use latchkey_core::store::Store;
use subtle::ConstantTimeEq;

use crate::error::{WebError, WebErrorKind};
use crate::state::AppState;
use crate::web::{cookies, Shape, WebSettings};

pub const COOKIE: &str = "csrftoken";
pub const HEADER: &str = "x-csrftoken";
pub const FORM_FIELD: &str = "csrfmiddlewaretoken";

/// Django's `CSRF_ALLOWED_CHARS`, in its order (the mask adds indices into it).
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const SECRET_LEN: usize = 32;
/// Django keeps the cookie a year; it is only a secret bound to this browser.
const COOKIE_MAX_AGE: i64 = 365 * 24 * 3600;

fn index(c: u8) -> Option<usize> {
    ALPHABET.iter().position(|&a| a == c)
}

fn well_formed(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| index(b).is_some())
}

/// The cookie's secret, when the request has a well-formed one.
pub fn secret(headers: &HeaderMap) -> Option<&str> {
    cookies::read(headers, COOKIE).filter(|s| well_formed(s, SECRET_LEN))
}

/// The secret under a fresh pad `mask` (32 alphabet characters): `mask + cipher`, 64 characters.
fn mask_with(secret: &str, mask: &str) -> String {
    let cipher: String = secret
        .bytes()
        .zip(mask.bytes())
        .map(|(s, m)| {
            let i = (index(s).unwrap_or(0) + index(m).unwrap_or(0)) % ALPHABET.len();
            char::from(ALPHABET[i])
        })
        .collect();
    format!("{mask}{cipher}")
}

/// The secret a presented token stands for: a 64-character masked token or the bare secret.
fn unmask(token: &str) -> Option<String> {
    if well_formed(token, SECRET_LEN) {
        return Some(token.to_owned());
    }
    if !well_formed(token, 2 * SECRET_LEN) {
        return None;
    }
    let (mask, cipher) = token.as_bytes().split_at(SECRET_LEN);
    cipher
        .iter()
        .zip(mask)
        .map(|(&c, &m)| {
            let n = ALPHABET.len();
            let i = (index(c)? + n - index(m)?) % n;
            Some(char::from(ALPHABET[i]))
        })
        .collect()
}

/// A token for this browser: the cookie's secret (or a new one, with the cookie to set) masked
/// afresh. Pages put it in their forms; `GET /csrf/api/v1/token` hands it to scripts.
pub struct Issued {
    pub token: String,
    /// `Set-Cookie` when the browser had no secret yet.
    pub set_cookie: Option<HeaderValue>,
}

pub fn issue<S: Store>(state: &AppState<S>, headers: &HeaderMap) -> Issued {
    let random = state.random.as_ref();
    let mask = alphanumeric(random, SECRET_LEN);
    match secret(headers) {
        Some(secret) => Issued {
            token: mask_with(secret, &mask),
            set_cookie: None,
        },
        None => {
            let secret = alphanumeric(random, SECRET_LEN);
            Issued {
                token: mask_with(&secret, &mask),
                set_cookie: state.web.csrf_cookie().set(&secret, Some(COOKIE_MAX_AGE)),
            }
        }
    }
}

/// A new secret after a sign-in (Django's `rotate_token`): a token read before it is useless
/// after. Returns the token for the next form and the cookie to set.
pub fn rotate<S: Store>(state: &AppState<S>) -> Issued {
    let random = state.random.as_ref();
    let secret = alphanumeric(random, SECRET_LEN);
    Issued {
        token: mask_with(&secret, &alphanumeric(random, SECRET_LEN)),
        set_cookie: state.web.csrf_cookie().set(&secret, Some(COOKIE_MAX_AGE)),
    }
}

/// The check every unsafe request that a cookie authenticates must pass: `form_token` is the
/// `csrfmiddlewaretoken` field of an HTML form, if the body had one. Refused with 403, as a page
/// or JSON as the request asked.
pub fn check(
    headers: &HeaderMap,
    form_token: Option<&str>,
    web: &WebSettings,
) -> Result<(), WebError> {
    let refuse = |why: &str| {
        tracing::info!(target: "audit", reason = why, "CSRF check failed");
        Err(WebError::new(
            WebErrorKind::Forbidden,
            format!("CSRF verification failed: {why}"),
            Shape::of(headers, web),
        ))
    };
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        if origin != "null" && !web.trusts_origin(origin) {
            return refuse("the request came from another site");
        }
    }
    let Some(secret) = secret(headers) else {
        return refuse("the CSRF cookie is missing");
    };
    let presented = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .or(form_token);
    let Some(presented) = presented.and_then(unmask) else {
        return refuse("the CSRF token is missing or malformed");
    };
    if bool::from(presented.as_bytes().ct_eq(secret.as_bytes())) {
        Ok(())
    } else {
        refuse("the CSRF token is incorrect")
    }
}

/// `GET /csrf/api/v1/token`: `{"csrfToken": "..."}` and the cookie it pairs with, as
/// edx-drf-extensions' `CsrfTokenView` answers frontend-platform.
pub async fn token<S: Store>(State(state): State<AppState<S>>, headers: HeaderMap) -> Response {
    let issued = issue(&state, &headers);
    let mut response = Json(serde_json::json!({ "csrfToken": issued.token })).into_response();
    cookies::append(response.headers_mut(), [issued.set_cookie]);
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn masked_tokens_unmask_to_the_secret() {
        let secret = "abcdefghijklmnopqrstuvwxyzABCDEF";
        let token = mask_with(secret, "0123456789ABCDEFGHIJKLMNOPQRSTUV");
        assert_eq!(token.len(), 64);
        assert_ne!(&token[32..], secret);
        assert_eq!(unmask(&token).as_deref(), Some(secret));
        assert_eq!(unmask(secret).as_deref(), Some(secret));
        for bad in ["", "short", &"a".repeat(63), &format!("{}!", &token[..63])] {
            assert_eq!(unmask(bad), None, "{bad}");
        }
    }

    /// The same pair as Django 4.2 computes: `_mask_cipher_secret` with a fixed mask.
    #[test]
    fn masking_matches_django() {
        let secret = "a".repeat(32);
        let mask = "b".repeat(32);
        // index('a') = 0, index('b') = 1: the cipher is all 'b'.
        assert_eq!(mask_with(&secret, &mask), "b".repeat(64));
        let secret9 = "9".repeat(32);
        // index('9') = 61, + 1 wraps to index 0, 'a'.
        assert_eq!(&mask_with(&secret9, &mask)[32..], "a".repeat(32));
    }
}
