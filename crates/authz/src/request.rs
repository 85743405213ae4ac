//! A validated request `(subject, action, scope)`.
//!
//! openedx-authz raises on some requests before any rule is looked at: its
//! staff check builds `ScopeData(namespaced_key=scope)`, which requires the
//! scope to match `^.+\^.+$` (Python `re`, so `.` is anything but `\n` and `$`
//! also matches before a final `\n`), then `UserData(namespaced_key=subject)`,
//! which splits the subject at its first `^`. [`Request::new`] refuses exactly
//! those requests, so a [`Request`] is one openedx-authz would answer.

use crate::error::RequestError;

/// Scope namespaces where openedx-authz's staff/superuser bypass applies
/// (`ContentLibraryData.NAMESPACE`, `CourseOverviewData.NAMESPACE`).
const STAFF_NAMESPACES: [&str; 2] = ["lib", "course-v1"];

/// A request openedx-authz would evaluate. Only [`Request::new`] builds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Request<'a> {
    subject: &'a str,
    action: &'a str,
    scope: &'a str,
}

impl<'a> Request<'a> {
    /// Validate a request the way openedx-authz does.
    pub fn new(subject: &'a str, action: &'a str, scope: &'a str) -> Result<Self, RequestError> {
        if !is_namespaced_key(scope) {
            return Err(RequestError::ScopeNotNamespaced {
                scope: scope.to_owned(),
            });
        }
        if !subject.contains('^') {
            return Err(RequestError::SubjectNotNamespaced {
                subject: subject.to_owned(),
            });
        }
        Ok(Request {
            subject,
            action,
            scope,
        })
    }

    /// `user^alice`
    pub fn subject(&self) -> &'a str {
        self.subject
    }

    /// `act^...`
    pub fn action(&self) -> &'a str {
        self.action
    }

    /// `lib^lib:Org:slug`, `course-v1^course-v1:Org+Course+Run`, ...
    pub fn scope(&self) -> &'a str {
        self.scope
    }

    /// The text after the subject's first `^`: the username or email that the
    /// staff check looks up, whatever the subject's namespace.
    pub fn user_key(&self) -> &'a str {
        self.subject
            .split_once('^')
            .map_or("", |(_namespace, key)| key)
    }

    /// Whether the staff/superuser bypass applies to this scope's namespace
    /// (the text before the scope's first `^`).
    pub fn in_staff_scope(&self) -> bool {
        let namespace = self.scope.split_once('^').map_or("", |(ns, _)| ns);
        STAFF_NAMESPACES.contains(&namespace)
    }
}

/// Python `re.match(r"^.+\^.+$", key)`.
fn is_namespaced_key(key: &str) -> bool {
    // `$` matches at the end or just before a final newline; `.` never
    // matches a newline, so what remains must have none.
    let body = key.strip_suffix('\n').unwrap_or(key);
    if body.contains('\n') {
        return false;
    }
    // Some `^` with at least one character before and after it.
    body.char_indices()
        .any(|(at, c)| c == '^' && at > 0 && at + 1 < body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_key_matches_python_regex() {
        for ok in [
            "lib^x",
            "a^b",
            "lib^^",
            "^lib^x",
            "a^b\n",
            "l\u{e9}^\u{e9}",
            "a\r^b",
        ] {
            assert!(is_namespaced_key(ok), "{ok:?}");
        }
        for bad in ["*", "lib^", "^x", "^", "", "a^\n", "a\n^b", "a^b\n\n"] {
            assert!(!is_namespaced_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn rejects_what_openedx_authz_rejects() {
        assert!(matches!(
            Request::new("user^u", "act^a", "*"),
            Err(RequestError::ScopeNotNamespaced { .. })
        ));
        assert!(matches!(
            Request::new("user^u", "act^a", "lib^"),
            Err(RequestError::ScopeNotNamespaced { .. })
        ));
        assert!(matches!(
            Request::new("alice", "act^a", "lib^lib:X:y"),
            Err(RequestError::SubjectNotNamespaced { .. })
        ));
        // An empty action or user key is not an error upstream.
        assert!(Request::new("user^", "", "lib^lib:X:y").is_ok());
    }

    #[test]
    fn user_key_and_staff_namespace() {
        let r = Request::new(
            "service^ops@example.com",
            "act^a",
            "course-v1^course-v1:O+C+R",
        )
        .unwrap();
        assert_eq!(r.user_key(), "ops@example.com");
        assert!(r.in_staff_scope());
        let r = Request::new("user^a^b", "act^a", "org^OpenedX").unwrap();
        assert_eq!(r.user_key(), "a^b");
        assert!(!r.in_staff_scope());
        let r = Request::new("user^a", "act^a", "^lib^x").unwrap();
        assert!(!r.in_staff_scope());
    }
}
