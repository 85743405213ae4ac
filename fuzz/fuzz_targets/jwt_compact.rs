//! JWT compact forms: never a panic in the guard's shape check or the header decoding after it.
#![no_main]

use latchkey_guard::fuzzing::parse_compact;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_compact(data);
});
