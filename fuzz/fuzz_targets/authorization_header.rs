//! `Authorization` header values: never a panic, and a JWT found is always in compact form.
#![no_main]

use latchkey_guard::fuzzing::{parse_authorization, parse_compact, Presented};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(Presented::Jwt { token, .. })) = parse_authorization(data) {
        assert_eq!(token.split('.').count(), 3);
        let _ = parse_compact(token.as_bytes());
    }
});
