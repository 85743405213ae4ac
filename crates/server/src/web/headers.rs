//! The headers every page, and every response that carries a code, a token or a cookie, gets:
//! never cached, never framed (clickjacking of the login and consent forms), no script at all,
//! and no `Referer` that could carry a code or a `next` path to another site.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, PRAGMA, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

/// No script may run and nothing may frame the page. Styles come from our own stylesheet only,
/// images from anywhere over HTTPS (the configured logo). `form-action` is left out on purpose:
/// browsers apply it to the redirect after a form, and the consent form redirects to the client.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'";

/// Sets the security headers on `headers`, replacing any already there.
pub fn apply(headers: &mut HeaderMap) {
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
    );
    // For browsers that predate `frame-ancestors`.
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

/// [`apply`] as a response mapper, for `axum::middleware::map_response` over the browser routes.
pub async fn secure(mut response: Response) -> Response {
    apply(response.headers_mut());
    response
}
