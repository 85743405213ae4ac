//! The two JWT cookies of product.md "Cookies for MFEs": `<header>.<payload>` readable by
//! JavaScript, `<signature>` HttpOnly, both `Path=/` on the shared domain with `Max-Age` = the JWT
//! lifetime. The guard and edx-drf-extensions reassemble them.

use axum::http::{HeaderMap, HeaderValue};
use latchkey_core::session_jwt::SessionJwt;

use crate::web::{cookies, WebSettings};

/// `Set-Cookie` values carrying `jwt` split in two; none if the token is not a compact JWS.
pub fn set(web: &WebSettings, jwt: &SessionJwt) -> Vec<Option<HeaderValue>> {
    let token = jwt.token.expose();
    let Some((header_payload, signature)) = token.rsplit_once('.') else {
        return Vec::new();
    };
    let age = Some(jwt.expires_in);
    vec![
        web.jwt_header_payload_cookie().set(header_payload, age),
        web.jwt_signature_cookie().set(signature, age),
    ]
}

/// The JWT the request's two cookies carry, reassembled, if it has both.
pub fn read(web: &WebSettings, headers: &HeaderMap) -> Option<String> {
    let header_payload = cookies::read(headers, &web.jwt_cookies.header_payload_name)?;
    let signature = cookies::read(headers, &web.jwt_cookies.signature_name)?;
    Some(format!("{header_payload}.{signature}"))
}

/// `Set-Cookie` values deleting both.
pub fn delete(web: &WebSettings) -> Vec<Option<HeaderValue>> {
    vec![
        web.jwt_header_payload_cookie().delete(),
        web.jwt_signature_cookie().delete(),
    ]
}
