//! base64url without padding, the only encoding JOSE uses (RFC 7515 §2, Appendix C).
//!
//! Decoding is strict: padding, non-alphabet bytes and non-zero trailing bits are refused, so one
//! signature or payload has exactly one textual form.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Encodes `bytes` as unpadded base64url.
pub(crate) fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Appends the unpadded base64url form of `bytes` to `out` without a temporary buffer.
pub(crate) fn encode_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// Decodes strict unpadded base64url.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_padding_and_other_alphabets() {
        assert_eq!(encode(b"\xfb\xff"), "-_8");
        assert_eq!(decode("-_8").unwrap(), b"\xfb\xff");
        assert!(decode("-_8=").is_none());
        assert!(decode("+/8").is_none());
        // "-_9" has non-zero trailing bits: a second spelling of the same bytes.
        assert!(decode("-_9").is_none());
        let mut s = String::from("a.");
        encode_into(b"hi", &mut s);
        assert_eq!(s, "a.aGk");
    }
}
