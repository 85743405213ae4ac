//! The JWS Compact Serialization (RFC 7515 §7.1): `header.payload.signature`, taking it apart.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::b64;
use crate::error::VerifyError;

/// Longest token we look at. Ours are well under 2 KiB; a cookie is at most 4 KiB. Anything far
/// larger is refused before any decoding work.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A JWT's JOSE header (RFC 7515 §4.1), as read by [`decode_header`] before verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The signature algorithm the token claims (RFC 7515 §4.1.1). Untrusted until verified.
    pub alg: String,
    /// Media type of the whole token, `JWT` for ours (RFC 7519 §5.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// The key the token claims to be signed with (RFC 7515 §4.1.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

/// Reads a token's header without verifying anything, e.g. to see which `kid` it names.
///
/// Fails with [`VerifyError::Malformed`] unless `token` has the three compact parts and a
/// header that is a JSON object with a string `alg`.
pub fn decode_header(token: &str) -> Result<Header, VerifyError> {
    let parts = Parts::split(token)?;
    let json = b64::decode(parts.header_b64).ok_or(VerifyError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| VerifyError::Malformed)
}

/// Splits a JWT into the two MFE cookies (product.md §3): `("<header>.<payload>", "<signature>")`.
///
/// `None` unless `jwt` has exactly three non-empty parts. Nothing is decoded or verified.
pub fn split_for_cookies(jwt: &str) -> Option<(&str, &str)> {
    let parts = Parts::split(jwt).ok()?;
    Some((parts.signing_input, parts.signature_b64))
}

/// The three base64url parts of a compact JWS, and the signing input they imply.
pub(crate) struct Parts<'a> {
    pub(crate) header_b64: &'a str,
    pub(crate) payload_b64: &'a str,
    pub(crate) signature_b64: &'a str,
    /// `header_b64 '.' payload_b64`: what the signature covers (RFC 7515 §5.2 step 8).
    pub(crate) signing_input: &'a str,
}

impl<'a> Parts<'a> {
    /// Exactly three non-empty, dot-separated parts; the JWE form (five parts) and the unsecured
    /// form (an empty signature, RFC 7519 §6) are refused here.
    pub(crate) fn split(token: &'a str) -> Result<Parts<'a>, VerifyError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(VerifyError::Malformed);
        }
        let (signing_input, signature_b64) =
            token.rsplit_once('.').ok_or(VerifyError::Malformed)?;
        let (header_b64, payload_b64) = signing_input
            .split_once('.')
            .ok_or(VerifyError::Malformed)?;
        if payload_b64.contains('.')
            || header_b64.is_empty()
            || payload_b64.is_empty()
            || signature_b64.is_empty()
        {
            return Err(VerifyError::Malformed);
        }
        Ok(Parts {
            header_b64,
            payload_b64,
            signature_b64,
            signing_input,
        })
    }
}

/// The header members verification looks at, borrowed from the decoded JSON where possible.
#[derive(Deserialize)]
pub(crate) struct RawHeader<'a> {
    #[serde(borrow)]
    pub(crate) alg: Cow<'a, str>,
    #[serde(borrow, default)]
    pub(crate) typ: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(crate) kid: Option<Cow<'a, str>>,
    /// RFC 7515 §4.1.11: a recipient that does not understand every listed extension MUST reject
    /// the token. We understand none, so its mere presence is refused.
    #[serde(default)]
    pub(crate) crit: Option<serde::de::IgnoredAny>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const TOKEN: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0.eyJzdWIiOiJhIn0.c2ln";

    #[test]
    fn decodes_the_header() {
        let header = decode_header(TOKEN).unwrap();
        assert_eq!(
            header,
            Header {
                alg: "ES256".into(),
                typ: Some("JWT".into()),
                kid: Some("k1".into()),
            }
        );
    }

    #[test]
    fn refuses_what_is_not_a_compact_jws() {
        let header = TOKEN.split('.').next().unwrap();
        for token in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "a.b.c.d.e",
            &format!("{header}.eyJzdWIiOiJhIn0."),
            &format!("{header}..c2ln"),
            // header is not base64url / not JSON / has no alg
            "e30=.e30.c2ln",
            "bm90IGpzb24.e30.c2ln",
            "e30.e30.c2ln",
        ] {
            assert_eq!(decode_header(token), Err(VerifyError::Malformed), "{token}");
        }
        let huge = format!("{header}.{}.c2ln", "A".repeat(MAX_TOKEN_LEN));
        assert_eq!(decode_header(&huge), Err(VerifyError::Malformed));
    }

    #[test]
    fn splits_for_cookies() {
        let (header_payload, signature) = split_for_cookies(TOKEN).unwrap();
        assert_eq!(signature, "c2ln");
        assert_eq!(format!("{header_payload}.{signature}"), TOKEN);
        assert!(!header_payload.ends_with('.'));
        assert_eq!(split_for_cookies("a.b"), None);
        assert_eq!(split_for_cookies("a.b.c.d"), None);
        assert_eq!(split_for_cookies("a.b."), None);
    }
}
