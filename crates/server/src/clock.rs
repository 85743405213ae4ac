//! The one place the server reads the clock; everything below it takes `now` as a parameter.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds.
#[allow(clippy::disallowed_methods)]
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
