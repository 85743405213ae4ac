//! `GET /`: where a sign-in without `next` lands. Behind an Open edX proxy `/` is the LMS and this
//! page is never reached; a Latchkey of its own says who is signed in and offers to sign out, and
//! sends anyone else to the sign-in page.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::store::Store;

use crate::error::WebError;
use crate::state::AppState;
use crate::web::branding::Branding;
use crate::web::session::MaybeSession;
use crate::web::{cookies, csrf, page, Shape};

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage<'a> {
    pub chrome: &'a Branding,
    pub csrf_token: &'a str,
    pub username: &'a str,
}

pub async fn home<S: Store>(
    State(state): State<AppState<S>>,
    MaybeSession(current): MaybeSession,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let Some(current) = current else {
        let mut response = StatusCode::FOUND.into_response();
        response
            .headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/login"));
        return Ok(response);
    };
    let issued = csrf::issue(&state, &headers);
    let html = page::render(&HomePage {
        chrome: &state.web.branding,
        csrf_token: &issued.token,
        username: &current.user.username,
    })
    .map_err(|e| WebError::internal(&e, Shape::of(&headers, &state.web)))?;
    let mut response = html.into_response();
    cookies::append(response.headers_mut(), [issued.set_cookie]);
    Ok(response)
}
