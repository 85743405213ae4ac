//! Server-rendered pages: askama templates under `templates/`, checked when the crate compiles.
//! Every page extends `base.html`, which takes the installation's [`Branding`] as `chrome`; a
//! page is a struct deriving `Template` with a `chrome: &Branding` field, rendered by [`render`].
//! Pages work without JavaScript (there is none: the CSP forbids it), and are built to be read on
//! a phone and with a screen reader: one `main`, labelled fields, the focus order of the source.

use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use latchkey_core::store::Store;

use crate::error::WebError;
use crate::state::AppState;
use crate::web::branding::Branding;
use crate::web::Shape;

/// Renders a page. Only a bug in a template makes this fail.
pub fn render(page: &impl Template) -> Result<Html<String>, askama::Error> {
    page.render().map(Html)
}

/// The default page of a [`crate::error::WebError`].
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub chrome: &'a Branding,
    pub title: &'a str,
    pub message: &'a str,
}

/// `GET /static/latchkey.css`: the one stylesheet, in the configured colours (the CSP allows
/// styles from this origin only, so none are inline).
#[derive(Template)]
#[template(path = "latchkey.css", escape = "none")]
pub struct Stylesheet<'a> {
    pub chrome: &'a Branding,
}

pub async fn stylesheet<S: Store>(State(state): State<AppState<S>>) -> Result<Response, WebError> {
    let sheet = Stylesheet {
        chrome: &state.web.branding,
    };
    let css = sheet
        .render()
        .map_err(|e| WebError::internal(&e, Shape::Json))?;
    Ok(([(header::CONTENT_TYPE, "text/css; charset=utf-8")], css).into_response())
}
