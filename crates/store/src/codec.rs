//! How domain values are spelled in columns, the same on both backends.

use latchkey_core::store::StoreError;

/// Lists (scopes, filters, redirect URIs) are stored space-separated: none of them can hold a space.
pub fn join(items: &[String]) -> String {
    items.join(" ")
}

pub fn split(text: &str) -> Vec<String> {
    text.split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}
