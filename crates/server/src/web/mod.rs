//! What browsers, MFEs and WebViews get, one job per module: cookies, the session a cookie names,
//! CSRF, the security headers, CORS and server-rendered pages. The endpoints built on them live
//! in `routes/`.

pub mod branding;
pub mod cookies;
pub mod cors;
pub mod csrf;
pub mod headers;
pub mod jwt_cookies;
pub mod next;
pub mod page;
pub mod session;

use std::sync::Arc;

use axum::http::{header, HeaderMap};

pub use branding::{Branding, Colour};
pub use cookies::CookieSpec;

/// The two JWT cookies of product.md "Cookies for MFEs" (Open edX's names by default).
#[derive(Clone, Debug, PartialEq)]
pub struct JwtCookieSettings {
    pub header_payload_name: String,
    pub signature_name: String,
    /// Shared by the LMS and the MFEs (e.g. `.example.org`); `None`: this host only.
    pub domain: Option<String>,
    /// The JWT's lifetime and the cookies' `Max-Age`, in seconds.
    pub lifetime: i64,
    /// The client the JWT is issued to (Open edX `JWT_AUTH['JWT_LOGIN_CLIENT_ID']`).
    pub login_client_id: String,
}

impl Default for JwtCookieSettings {
    fn default() -> Self {
        JwtCookieSettings {
            header_payload_name: "edx-jwt-cookie-header-payload".into(),
            signature_name: "edx-jwt-cookie-signature".into(),
            domain: None,
            lifetime: 3600,
            login_client_id: "login-service-client-id".into(),
        }
    }
}

/// Settings of the browser endpoints.
#[derive(Clone, Debug)]
pub struct WebSettings {
    pub session_cookie_name: String,
    pub jwt_cookies: JwtCookieSettings,
    /// MFE origins allowed to call with credentials (exact `scheme://host[:port]`).
    pub cors_origins: Vec<String>,
    pub branding: Arc<Branding>,
    /// `scheme://host[:port]` of the issuer: what an `Origin` of our own pages says.
    pub origin: String,
    /// Cookies are `Secure` when the issuer is https.
    pub secure: bool,
}

impl WebSettings {
    /// Defaults for an issuer such as `https://auth.example.org/oauth2`.
    pub fn for_issuer(issuer: &str) -> Self {
        WebSettings {
            session_cookie_name: "sessionid".into(),
            jwt_cookies: JwtCookieSettings::default(),
            cors_origins: Vec::new(),
            branding: Arc::new(Branding::default()),
            origin: origin_of(issuer).unwrap_or_default(),
            secure: issuer.starts_with("https://"),
        }
    }

    pub fn session_cookie(&self) -> CookieSpec {
        CookieSpec {
            name: self.session_cookie_name.clone(),
            domain: None,
            http_only: true,
            secure: self.secure,
        }
    }

    /// Django's `csrftoken`: readable by scripts (they echo it in `X-CSRFToken`).
    pub fn csrf_cookie(&self) -> CookieSpec {
        CookieSpec {
            name: csrf::COOKIE.into(),
            domain: None,
            http_only: false,
            secure: self.secure,
        }
    }

    /// `<header>.<payload>`, readable by the MFEs' JavaScript.
    pub fn jwt_header_payload_cookie(&self) -> CookieSpec {
        CookieSpec {
            name: self.jwt_cookies.header_payload_name.clone(),
            domain: self.jwt_cookies.domain.clone(),
            http_only: false,
            secure: self.secure,
        }
    }

    /// `<signature>`, which no script may read: a stolen payload cookie is not a token.
    pub fn jwt_signature_cookie(&self) -> CookieSpec {
        CookieSpec {
            name: self.jwt_cookies.signature_name.clone(),
            domain: self.jwt_cookies.domain.clone(),
            http_only: true,
            secure: self.secure,
        }
    }

    /// Is `origin` one of ours or a configured MFE's?
    pub fn trusts_origin(&self, origin: &str) -> bool {
        origin == self.origin || self.cors_origins.iter().any(|o| o == origin)
    }
}

/// `scheme://host[:port]` of an absolute URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty()).then(|| format!("{scheme}://{authority}"))
}

/// How an answer (and so an error) is shown: a page to a browser that navigates, JSON to a
/// script (frontend-platform's axios asks for `application/json, text/plain, */*`).
#[derive(Clone, Debug)]
pub enum Shape {
    Page(Arc<Branding>),
    Json,
}

impl Shape {
    pub fn of(headers: &HeaderMap, web: &WebSettings) -> Shape {
        let html = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("text/html"));
        if html {
            Shape::Page(web.branding.clone())
        } else {
            Shape::Json
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_authority() {
        assert_eq!(
            origin_of("https://auth.example.org:8443/oauth2?x").as_deref(),
            Some("https://auth.example.org:8443")
        );
        assert_eq!(origin_of("nonsense"), None);
        let web = WebSettings::for_issuer("https://auth.example.org/oauth2");
        assert!(web.secure && web.trusts_origin("https://auth.example.org"));
        assert!(!web.trusts_origin("https://auth.example.org.evil.test"));
        assert!(!WebSettings::for_issuer("http://127.0.0.1:8000/oauth2").secure);
    }
}
