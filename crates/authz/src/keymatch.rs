//! casbin's `keyMatch`, and scope patterns split into exact and prefix form.
//!
//! `keyMatch(key, pattern)`: with no `*` in `pattern`, equality; otherwise
//! `key` starts with the part of `pattern` before its first `*` — the rest of
//! the pattern is ignored. pycasbin compares code-point slices, which for
//! UTF-8 is the same as a byte-prefix test; this module never slices a string,
//! so a non-ASCII key cannot split a character (the `casbin` crate panics there).

/// casbin `keyMatch`: does `key` match `pattern`?
pub fn key_match(key: &str, pattern: &str) -> bool {
    match ScopePattern::parse(pattern) {
        ScopePattern::Exact(exact) => key == exact,
        ScopePattern::Prefix(prefix) => key.starts_with(prefix),
    }
}

/// A scope pattern as `keyMatch` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopePattern<'a> {
    /// No `*`: matches only this exact key.
    Exact(&'a str),
    /// Everything before the first `*`: matches every key starting with it.
    Prefix(&'a str),
}

impl<'a> ScopePattern<'a> {
    /// Split `pattern` at its first `*`.
    pub fn parse(pattern: &'a str) -> Self {
        match pattern.split_once('*') {
            Some((prefix, _ignored)) => ScopePattern::Prefix(prefix),
            None => ScopePattern::Exact(pattern),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_without_star() {
        assert!(key_match("lib^lib:A:b", "lib^lib:A:b"));
        assert!(!key_match("lib^lib:A:bc", "lib^lib:A:b"));
    }

    #[test]
    fn prefix_up_to_first_star_rest_ignored() {
        assert!(key_match("lib^lib:A:b", "lib^*"));
        assert!(key_match("lib^", "lib^*"));
        assert!(!key_match("lib", "lib^*"));
        assert!(key_match(
            "course-v1^course-v1:OpenedX+C+R",
            "course-v1^course-v1:OpenedX+*"
        ));
        // No boundary check: `+` is not a separator to keyMatch.
        assert!(key_match(
            "course-v1^course-v1:OpenedX+",
            "course-v1^course-v1:OpenedX+*"
        ));
        assert!(key_match("lib^anything", "lib^*this-part-is-ignored"));
        assert!(key_match("anything", "*"));
        assert!(key_match("", "*"));
    }

    #[test]
    fn case_sensitive_and_no_normalisation() {
        assert!(!key_match("LIB^x", "lib^*"));
        // "é" precomposed vs "e" + combining acute: different bytes, no match.
        assert!(!key_match("lib^lib:e\u{301}", "lib^lib:\u{e9}*"));
    }

    #[test]
    fn non_ascii_never_splits_a_character() {
        // The `*` sits at byte 13; byte 13 of the key is inside "é" (bytes 12..14).
        let pattern = "lib^lib:Org1:*";
        let key = "lib^lib:Org1\u{e9}:x";
        assert!(!key.is_char_boundary(13));
        assert!(!key_match(key, pattern));
        assert!(key_match("lib^lib:Org1:\u{65e5}\u{672c}", pattern));
        assert!(key_match("lib^\u{65e5}\u{672c}", "lib^\u{65e5}*"));
    }
}
