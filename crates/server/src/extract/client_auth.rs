//! HTTP Basic client authentication (RFC 6749 §2.3.1): `base64(urlencode(id) ":" urlencode(secret))`.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use latchkey_core::secret::Secret;
use percent_encoding::percent_decode_str;

use crate::error::ApiError;

/// `Ok(None)` without an `Authorization: Basic` header; an unreadable one is `invalid_request`.
pub fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, Secret)>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let Some(encoded) = value.to_str().ok().and_then(|v| {
        v.strip_prefix("Basic ")
            .or_else(|| v.strip_prefix("basic "))
    }) else {
        return Ok(None);
    };
    let bad = || ApiError::invalid_request("malformed HTTP Basic credentials");
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let id = form_decode(id).ok_or_else(bad)?;
    let secret = form_decode(secret).ok_or_else(bad)?;
    Ok(Some((id, Secret::new(secret))))
}

/// application/x-www-form-urlencoded decoding of one value ('+' is a space).
fn form_decode(s: &str) -> Option<String> {
    let spaced = s.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn decodes_url_encoded_id_and_secret() {
        let h = headers(&format!("Basic {}", STANDARD.encode("my%20app:s%3Ac+r")));
        let (id, secret) = basic_credentials(&h).unwrap().unwrap();
        assert_eq!(id, "my app");
        assert_eq!(secret.expose(), "s:c r");
    }

    #[test]
    fn other_schemes_are_not_basic_and_garbage_is_an_error() {
        assert!(basic_credentials(&headers("Bearer abc")).unwrap().is_none());
        assert!(basic_credentials(&headers("Basic !!!")).is_err());
        let no_colon = format!("Basic {}", STANDARD.encode("nocolon"));
        assert!(basic_credentials(&headers(&no_colon)).is_err());
    }
}
