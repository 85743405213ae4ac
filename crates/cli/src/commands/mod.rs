//! One module per sub-command.

pub mod authz;
pub mod client;
pub mod import;
pub mod keys;
pub mod serve;
pub mod token;
pub mod user;

/// Splits a list given as "a,b" or "a b" (Open edX's management commands accept both).
pub fn list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
