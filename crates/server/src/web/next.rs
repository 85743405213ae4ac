//! Where a sign-in sends the browser afterwards (`next`): a path on this site, never anywhere
//! else. Browsers read `//host`, `/\host` and `/<tab>/host` as another site, and a scheme
//! (`javascript:`, `https:`) is never relative, so only a plain absolute path is kept; anything
//! else is ignored and the default used, as the issue and Django's `url_has_allowed_host_and_scheme`
//! do.

/// Where a sign-in goes without a usable `next`.
pub const DEFAULT_NEXT: &str = "/";

/// Longer `next` values are never a page of ours worth returning to.
const MAX_NEXT_CHARS: usize = 2048;

/// `next` if it is a same-origin absolute path, else `None`.
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.len() <= MAX_NEXT_CHARS
        && next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then_some(next)
}

/// `next` if safe, else [`DEFAULT_NEXT`].
pub fn next_or_default(next: Option<&str>) -> &str {
    next.and_then(safe_next).unwrap_or(DEFAULT_NEXT)
}

/// The login page that returns to `next` (a same-origin path, such as the authorize request
/// that found no session) once the user has signed in.
pub fn login_url(next: &str) -> String {
    let encoded: String = url_encode(next);
    format!("/login?next={encoded}")
}

fn url_encode(text: &str) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_are_kept() {
        for good in [
            "/",
            "/dashboard",
            "/oauth2/authorize?client_id=a&state=b%2Fc",
            "/a/b#c",
        ] {
            assert_eq!(safe_next(good), Some(good), "{good}");
        }
        for bad in [
            "",
            "dashboard",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            " /x",
            "/x y",
            &format!("/{}", "a".repeat(2048)),
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
        assert_eq!(next_or_default(Some("//evil")), "/");
        assert_eq!(next_or_default(None), "/");
    }

    #[test]
    fn the_login_url_carries_next_encoded() {
        assert_eq!(
            login_url("/oauth2/authorize?a=1&b=2"),
            "/login?next=%2Foauth2%2Fauthorize%3Fa%3D1%26b%3D2"
        );
    }
}
