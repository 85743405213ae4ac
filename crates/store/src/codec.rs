//! How domain values are spelled in columns, the same on both backends.

use latchkey_core::secret::TokenHash;
use latchkey_core::store::StoreError;

use crate::errors::corrupt;

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

/// A stored keyed hash (of a token or a client secret).
pub fn hash_of(bytes: &[u8]) -> Result<TokenHash, StoreError> {
    TokenHash::from_bytes(bytes).ok_or_else(|| corrupt("a stored hash is not 32 bytes"))
}
