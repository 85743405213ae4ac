//! `GET /login`, `POST /login` and `POST /logout`: the browser sign-in, as an HTML form and as
//! JSON for the MFEs. The password check is core's sign-in (the same as the password grant's);
//! this module turns its proof into a session, the two JWT cookies and a fresh CSRF secret, and
//! answers as the request asked: a `302` to `next` or the form again with its error, or
//! `{"success": ..., ...}` JSON. No answer says whether an account exists.

use askama::Template;
use axum::body::{to_bytes, Body};
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use latchkey_core::secret::Secret;
use latchkey_core::session::Authenticated;
use latchkey_core::signin::SignInError;
use latchkey_core::store::Store;
use latchkey_core::tokens::RequestContext;
use serde::Deserialize;

use crate::clock::now;
use crate::error::{WebError, WebErrorKind};
use crate::extract::ClientIp;
use crate::state::AppState;
use crate::web::branding::Branding;
use crate::web::next::{next_or_default, safe_next};
use crate::web::session::{cookie_for, MaybeSession};
use crate::web::{cookies, csrf, jwt_cookies, page, session, Shape, WebSettings};

/// Larger bodies are refused before parsing: a login form is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the user is told when the sign-in fails, whatever the reason: unknown login, wrong
/// password and disabled account look the same.
const BAD_CREDENTIALS: &str = "The username, email or password is incorrect.";

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub chrome: &'a Branding,
    pub csrf_token: &'a str,
    pub next: Option<&'a str>,
    pub username: &'a str,
    pub remember: bool,
    pub error: Option<&'a str>,
}

/// The fields of `POST /login` and `POST /logout`, from a form or JSON.
#[derive(Default, Deserialize)]
#[serde(default)]
struct Fields {
    username: String,
    password: String,
    remember: Flag,
    next: Option<String>,
    csrfmiddlewaretoken: Option<String>,
}

/// A checkbox (`on`, `true`, `1`) or a JSON boolean.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum Flag {
    #[default]
    Absent,
    Bool(bool),
    Text(String),
}

impl Flag {
    fn is_set(&self) -> bool {
        match self {
            Flag::Absent => false,
            Flag::Bool(b) => *b,
            Flag::Text(t) => matches!(t.as_str(), "on" | "true" | "True" | "1" | "yes"),
        }
    }
}

/// A JSON body answers JSON; so does any request that does not ask for HTML (frontend-platform
/// posts forms and wants JSON back).
fn shape(headers: &HeaderMap, web: &WebSettings) -> Shape {
    if is_json(headers) {
        Shape::Json
    } else {
        Shape::of(headers, web)
    }
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or("")
}

fn is_json(headers: &HeaderMap) -> bool {
    content_type(headers).eq_ignore_ascii_case("application/json")
}

/// Reads and parses the body: a form or JSON, at most [`MAX_BODY_BYTES`], each field once.
async fn fields(headers: &HeaderMap, body: Body, shape: &Shape) -> Result<Fields, WebError> {
    let bad = |kind, why: &str| WebError::new(kind, why, shape.clone());
    let bytes = to_bytes(body, MAX_BODY_BYTES).await.map_err(|e| {
        if crate::http::timed_out(&e) {
            bad(
                WebErrorKind::TimedOut,
                "the request body did not arrive in time",
            )
        } else {
            bad(
                WebErrorKind::TooLarge,
                "the request body is larger than 16 KiB",
            )
        }
    })?;
    if is_json(headers) {
        serde_json::from_slice(&bytes)
            .map_err(|_| bad(WebErrorKind::BadRequest, "the JSON body is malformed"))
    } else if content_type(headers).eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| bad(WebErrorKind::BadRequest, "the form body is malformed"))
    } else {
        Err(bad(
            WebErrorKind::BadRequest,
            "the body must be a form or JSON",
        ))
    }
}

fn count(method: &'static str, outcome: &'static str) {
    metrics::counter!("latchkey_logins_total", "method" => method, "outcome" => outcome)
        .increment(1);
}

/// `GET /login`: the form, or straight on to `next` when a session is already live.
pub async fn form<S: Store>(
    State(state): State<AppState<S>>,
    MaybeSession(current): MaybeSession,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    #[derive(Default, Deserialize)]
    #[serde(default)]
    struct Query {
        next: Option<String>,
    }
    let query: Query =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let next = query.next.as_deref().and_then(safe_next);
    if current.is_some() {
        return Ok(found(next_or_default(next), Vec::new()));
    }
    let issued = csrf::issue(&state, &headers);
    let html = render_form(&state.web, &issued.token, next, "", false, None, &headers)?;
    let mut response = html.into_response();
    cookies::append(response.headers_mut(), [issued.set_cookie]);
    Ok(response)
}

fn render_form(
    web: &WebSettings,
    csrf_token: &str,
    next: Option<&str>,
    username: &str,
    remember: bool,
    error: Option<&str>,
    headers: &HeaderMap,
) -> Result<axum::response::Html<String>, WebError> {
    let page = LoginPage {
        chrome: &web.branding,
        csrf_token,
        next,
        username,
        remember,
        error,
    };
    page::render(&page).map_err(|e| WebError::internal(&e, Shape::of(headers, web)))
}

/// A `302` to a path of ours, with cookies.
fn found(location: &str, set: Vec<Option<HeaderValue>>) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    cookies::append(response.headers_mut(), set);
    response
}

/// `POST /login`.
pub async fn submit<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    request: Request,
) -> Result<Response, WebError> {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let shape = shape(&headers, &state.web);
    let result = sign_in(&state, ip, &headers, body, &shape).await;
    count(
        "password",
        result.as_ref().map_or_else(|(_, why)| *why, |_| "success"),
    );
    result.map_err(|(error, _)| error)
}

/// A refused sign-in, and the reason it is counted under.
type Refused = (WebError, &'static str);

/// The reason a [`WebError`] from a shared check is counted under.
fn reason(e: WebError) -> Refused {
    let why = match e.kind() {
        WebErrorKind::Forbidden => "csrf",
        WebErrorKind::TooLarge => "too_large",
        WebErrorKind::TimedOut => "timed_out",
        WebErrorKind::BadRequest => "malformed",
        _ => "error",
    };
    (e, why)
}

async fn sign_in<S: Store>(
    state: &AppState<S>,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    body: Body,
    shape: &Shape,
) -> Result<Response, Refused> {
    let mut fields = fields(headers, body, shape).await.map_err(reason)?;
    // Moved out at once: the password lives in a `Secret` (wiped on drop), nowhere else.
    let password = Secret::new(std::mem::take(&mut fields.password));
    csrf::check(headers, fields.csrfmiddlewaretoken.as_deref(), &state.web).map_err(reason)?;
    let next = fields.next.as_deref().and_then(safe_next);
    let remember = fields.remember.is_set();
    // A failure answers with the form again (a page) or `{"success": false}` (JSON).
    let refuse = |kind: WebErrorKind, message: &str| -> WebError {
        let error = WebError::new(kind, message, shape.clone());
        match shape {
            Shape::Json => {
                error.with_json(serde_json::json!({ "success": false, "error": message }))
            }
            Shape::Page(_) => {
                let issued = csrf::issue(state, headers);
                match render_form(
                    &state.web,
                    &issued.token,
                    next,
                    &fields.username,
                    remember,
                    Some(message),
                    headers,
                ) {
                    Ok(html) => error.with_page(html.0),
                    Err(e) => e,
                }
            }
        }
    };
    if fields.username.is_empty() || password.expose().is_empty() {
        return Err((
            refuse(
                WebErrorKind::BadRequest,
                "Enter your username or email and your password.",
            ),
            "missing_fields",
        ));
    }
    let now = now();
    let ctx = RequestContext { now, ip };
    let proof = match state
        .tokens
        .sign_in()
        .sign_in(&fields.username, password, ctx)
        .await
    {
        Ok(proof) => proof,
        Err(SignInError::BadCredentials) => {
            return Err((
                refuse(WebErrorKind::BadRequest, BAD_CREDENTIALS),
                "bad_credentials",
            ))
        }
        Err(SignInError::Throttled { retry_after }) => {
            return Err((
                refuse(
                    WebErrorKind::Throttled { retry_after },
                    "Too many sign-in attempts. Wait a few minutes and try again.",
                ),
                "throttled",
            ))
        }
        Err(SignInError::Busy { retry_after }) => {
            return Err((
                refuse(
                    WebErrorKind::Busy { retry_after },
                    "The server is busy. Try again in a moment.",
                ),
                "busy",
            ))
        }
        Err(SignInError::Internal(e)) => {
            return Err((WebError::internal(&e, shape.clone()), "error"))
        }
    };
    let internal = |e: &dyn std::error::Error| (WebError::internal(e, shape.clone()), "error");
    // A session id planted before the sign-in is worth nothing after it (session fixation).
    session::end(state, headers).await.map_err(reason)?;
    let started = state
        .sessions
        .start(Authenticated::signed_in(proof, now), remember, now)
        .await
        .map_err(|e| internal(&e))?;
    let jwt = state
        .tokens
        .session_jwt(
            &started.user,
            &state.web.jwt_cookies.login_client_id,
            state.web.jwt_cookies.lifetime,
            now,
        )
        .map_err(|e| internal(&e))?;
    tracing::info!(target: "audit", user_id = started.user.id.0, ip = ?ip, remember,
        "browser sign-in");
    let mut set = vec![
        cookie_for(&state.web, &started),
        csrf::rotate(state).set_cookie,
    ];
    set.extend(jwt_cookies::set(&state.web, &jwt));
    let next = next_or_default(next);
    Ok(match shape {
        Shape::Json => {
            let mut response =
                Json(serde_json::json!({ "success": true, "redirect_url": next })).into_response();
            cookies::append(response.headers_mut(), set);
            response
        }
        Shape::Page(_) => found(next, set),
    })
}

/// `POST /logout`: ends the session and deletes every cookie Latchkey set.
pub async fn logout<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    request: Request,
) -> Result<Response, WebError> {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let shape = shape(&headers, &state.web);
    // A logout with no body (a script's) is as good as an empty form.
    let fields = if content_type(&headers).is_empty() {
        Fields::default()
    } else {
        fields(&headers, body, &shape).await?
    };
    csrf::check(&headers, fields.csrfmiddlewaretoken.as_deref(), &state.web)?;
    if let Some(current) = session::current(&state, &headers).await? {
        tracing::info!(target: "audit", user_id = current.user.id.0, ip = ?ip, "browser sign-out");
        if let Some(jwt) = jwt_cookies::read(&state.web, &headers) {
            state
                .tokens
                .revoke_session_jwt(
                    &jwt,
                    current.user.id,
                    &state.web.jwt_cookies.login_client_id,
                    now(),
                )
                .await
                .map_err(|e| WebError::internal(&e, shape.clone()))?;
        }
    }
    session::end(&state, &headers).await?;
    let mut set = vec![
        state.web.session_cookie().delete(),
        state.web.csrf_cookie().delete(),
    ];
    set.extend(jwt_cookies::delete(&state.web));
    Ok(match shape {
        Shape::Json => {
            let mut response = Json(serde_json::json!({ "success": true })).into_response();
            cookies::append(response.headers_mut(), set);
            response
        }
        Shape::Page(_) => found(
            fields
                .next
                .as_deref()
                .and_then(safe_next)
                .unwrap_or("/login"),
            set,
        ),
    })
}
