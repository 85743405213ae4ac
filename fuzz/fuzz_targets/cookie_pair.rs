//! `Cookie` header values: never a panic, and a reassembled pair is always three parts.
#![no_main]

use latchkey_guard::fuzzing::{csrf_tokens_match, parse_cookie_pair};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(token)) = parse_cookie_pair(data) {
        assert_eq!(token.split('.').count(), 3);
    }
    // The same bytes as both CSRF values must match themselves whenever they are a header value.
    if axum_header_ok(data) && std::str::from_utf8(data).is_ok() && !data.is_empty() {
        assert!(csrf_tokens_match(data, data));
    }
});

fn axum_header_ok(data: &[u8]) -> bool {
    data.iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
}
