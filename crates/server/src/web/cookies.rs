//! Cookies as Latchkey sets them: reading one from the request, and `Set-Cookie` values built
//! from one place so that every cookie gets the attributes its kind needs (RFC 6265).

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};

/// The value of the cookie `name`, if the request carries it (the first, as Django reads it).
pub fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// How one cookie is set: its name and attributes, fixed by configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieSpec {
    pub name: String,
    /// `Domain=`; `None`: this host only.
    pub domain: Option<String>,
    /// Hidden from JavaScript.
    pub http_only: bool,
    /// Sent over HTTPS only: set when the issuer is https.
    pub secure: bool,
}

impl CookieSpec {
    /// `Set-Cookie` for `value`, living `max_age` seconds, or until the browser closes (`None`).
    /// Every cookie is `Path=/` and `SameSite=Lax`: sent on top-level navigations from other
    /// sites (the way back from an identity provider), never on their sub-requests or forms.
    pub fn set(&self, value: &str, max_age: Option<i64>) -> Option<HeaderValue> {
        let mut line = format!("{}={value}; Path=/", self.name);
        if let Some(domain) = &self.domain {
            line.push_str("; Domain=");
            line.push_str(domain);
        }
        if let Some(age) = max_age {
            line.push_str(&format!("; Max-Age={}", age.max(0)));
        }
        if self.http_only {
            line.push_str("; HttpOnly");
        }
        if self.secure {
            line.push_str("; Secure");
        }
        line.push_str("; SameSite=Lax");
        // A value or name with a character a header cannot hold is a bug upstream; refusing to
        // set it is safer than a half-written header.
        HeaderValue::from_str(&line).ok()
    }

    /// `Set-Cookie` that deletes this cookie (same name, path and domain; expired).
    pub fn delete(&self) -> Option<HeaderValue> {
        let line = self.set("", Some(0))?;
        let mut text = line.to_str().ok()?.to_owned();
        text.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        HeaderValue::from_str(&text).ok()
    }
}

/// Appends `Set-Cookie` values to a response's headers (several may be set at once).
pub fn append(headers: &mut HeaderMap, cookies: impl IntoIterator<Item = Option<HeaderValue>>) {
    for cookie in cookies.into_iter().flatten() {
        headers.append(SET_COOKIE, cookie);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_the_named_cookie_only() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; sessionid=abc; b=\"2\""),
        );
        h.append(COOKIE, HeaderValue::from_static("c=3"));
        assert_eq!(read(&h, "sessionid"), Some("abc"));
        assert_eq!(read(&h, "b"), Some("2"));
        assert_eq!(read(&h, "c"), Some("3"));
        assert_eq!(read(&h, "session"), None);
    }

    #[test]
    fn attributes_follow_the_spec() {
        let spec = CookieSpec {
            name: "sessionid".into(),
            domain: Some(".example.org".into()),
            http_only: true,
            secure: true,
        };
        assert_eq!(
            spec.set("v", Some(60)).unwrap(),
            "sessionid=v; Path=/; Domain=.example.org; Max-Age=60; HttpOnly; Secure; SameSite=Lax"
        );
        let gone = spec.delete().unwrap();
        assert!(gone
            .to_str()
            .unwrap()
            .starts_with("sessionid=; Path=/; Domain=.example.org; Max-Age=0"));
        assert!(spec.set("a;b", None).is_some(), "the caller's job");
        assert!(spec.set("a\nb", None).is_none());
    }
}
