//! `GET/POST /oauth2/authorize` (RFC 6749 §4.1.1-§4.1.2): the browser side of the code flow.
//! Core validates the request and decides whether to ask (`latchkey_core::authorize`); this
//! module sends a visitor without a session to the login page and back, shows the consent page,
//! and turns the answer into a redirect to the client. Every answer carries the security headers
//! (the router's browser layer).

use std::net::IpAddr;

use askama::Template;
use axum::extract::{RawForm, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::authorize::{Authorization, AuthorizeError, Consented, PageError};
use latchkey_core::session::CurrentSession;
use latchkey_core::store::Store;
use latchkey_core::user::User;
use latchkey_proto::{AuthorizeRequest, ErrorCode};
use serde::Deserialize;

use crate::clock::now;
use crate::error::{found_at_client, ClientRedirect, WebError, WebErrorKind};
use crate::extract::ClientIp;
use crate::state::AppState;
use crate::web::branding::Branding;
use crate::web::session::MaybeSession;
use crate::web::{cookies, csrf, next, page, Shape};

/// The consent form: the authorization request again (hidden fields), the user's decision and
/// the CSRF token. Without a decision it is an authorization request sent by POST.
#[derive(Deserialize)]
struct ConsentForm {
    #[serde(flatten)]
    request: AuthorizeRequest,
    decision: Option<String>,
    csrfmiddlewaretoken: Option<String>,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    chrome: &'a Branding,
    client_name: &'a str,
    username: &'a str,
    /// What each scope lets the client do, in words.
    abilities: Vec<String>,
    /// The organisations a `content_org:` filter limits the client to.
    orgs: Vec<&'a str>,
    /// The authorization request, to send again with the decision.
    fields: Vec<(&'static str, String)>,
    csrf_token: &'a str,
}

pub async fn authorize_get<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    RawQuery(query): RawQuery,
) -> Result<Response, WebError> {
    let request = parse(&state, query.as_deref().unwrap_or("").as_bytes())?;
    ask(&state, &headers, session, ip, request).await
}

pub async fn authorize_post<S: Store>(
    State(state): State<AppState<S>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    MaybeSession(session): MaybeSession,
    RawForm(body): RawForm,
) -> Result<Response, WebError> {
    let form: ConsentForm = parse(&state, &body)?;
    let Some(decision) = form.decision else {
        return ask(&state, &headers, session, ip, form.request).await;
    };
    csrf::check(&headers, form.csrfmiddlewaretoken.as_deref(), &state.web)?;
    let Some(session) = session else {
        return Ok(to_login(&form.request));
    };
    let auth = match validate(&state, form.request).await? {
        Ok(auth) => auth,
        Err(redirect) => return Ok(redirect),
    };
    let user = &session.user;
    match decision.as_str() {
        "allow" => {
            let consented = state
                .tokens
                .grant_consent(&auth, user, now())
                .await
                .map_err(|e| page_internal(&state, &e))?;
            decided("allow", &auth, user, ip);
            issue(&state, &consented, &session).await
        }
        "deny" => {
            decided("deny", &auth, user, ip);
            Ok(ClientRedirect(auth.denied()).into_response())
        }
        _ => Err(bad_request(&state, "the decision must be allow or deny")),
    }
}

/// A request read as the authorization endpoint reads it: malformed (a parameter twice, say)
/// is our page's 400, since nothing in it can be trusted to redirect to.
fn parse<S: Store, T: serde::de::DeserializeOwned>(
    state: &AppState<S>,
    bytes: &[u8],
) -> Result<T, WebError> {
    serde_urlencoded::from_bytes(bytes).map_err(|e| {
        bad_request(
            state,
            format!("the authorization request is malformed: {e}"),
        )
    })
}

/// The authorization request, validated: its errors go to our page or back to the client.
async fn validate<S: Store>(
    state: &AppState<S>,
    request: AuthorizeRequest,
) -> Result<Result<Authorization, Response>, WebError> {
    match state.tokens.authorize(request).await {
        Ok(auth) => Ok(Ok(auth)),
        Err(AuthorizeError::Redirect(e)) => Ok(Err(ClientRedirect(e).into_response())),
        Err(AuthorizeError::Page(e)) => match e {
            PageError::Internal(source) => Err(page_internal(state, &source)),
            e => Err(bad_request(state, e.to_string())),
        },
    }
}

/// A valid request from a signed-in user: a code at once when nothing needs asking, else the
/// consent page. Without a session, the login page, which comes back here.
async fn ask<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    session: Option<CurrentSession>,
    ip: Option<IpAddr>,
    request: AuthorizeRequest,
) -> Result<Response, WebError> {
    let auth = match validate(state, request.clone()).await? {
        Ok(auth) => auth,
        Err(redirect) => return Ok(redirect),
    };
    let Some(session) = session else {
        return Ok(to_login(&request));
    };
    let given = state
        .tokens
        .consent_given(&auth, &session.user)
        .await
        .map_err(|e| page_internal(state, &e))?;
    if let Some(consented) = given {
        let why = if auth.client.skip_authorization {
            "skipped"
        } else {
            "remembered"
        };
        decided(why, &auth, &session.user, ip);
        return issue(state, &consented, &session).await;
    }
    consent_page(state, headers, &auth, &session, &request)
}

/// Issues the code and sends the user back to the client with it.
async fn issue<S: Store>(
    state: &AppState<S>,
    consented: &Consented<'_>,
    session: &CurrentSession,
) -> Result<Response, WebError> {
    let auth = consented.authorization();
    match state
        .tokens
        .issue_code(consented, session.auth_time, now())
        .await
    {
        Ok(code) => Ok(found_at_client(&auth.code_location(&code))),
        Err(e) => {
            tracing::error!(error = %e, detail = ?e, "cannot issue an authorization code");
            Ok(
                ClientRedirect(auth.error(ErrorCode::ServerError, "internal error"))
                    .into_response(),
            )
        }
    }
}

/// Counts a consent decision (`allow`, `deny`, or a question not asked: `remembered`,
/// `skipped`) and records who decided what for which client, and from where.
fn decided(decision: &'static str, auth: &Authorization, user: &User, ip: Option<IpAddr>) {
    metrics::counter!("latchkey_consent_decisions_total", "decision" => decision).increment(1);
    tracing::info!(target: "audit", user_id = user.id.0, client_id = %auth.client.id,
        scopes = %auth.scopes.join(" "), ip = ?ip, decision, "consent decision");
}

fn consent_page<S: Store>(
    state: &AppState<S>,
    headers: &HeaderMap,
    auth: &Authorization,
    session: &CurrentSession,
    request: &AuthorizeRequest,
) -> Result<Response, WebError> {
    let csrf = csrf::issue(state, headers);
    let orgs = auth
        .client
        .filters
        .iter()
        .filter_map(|f| f.strip_prefix("content_org:"))
        .collect();
    let page = ConsentPage {
        chrome: &state.web.branding,
        client_name: &auth.client.name,
        username: &session.user.username,
        abilities: auth
            .scopes
            .iter()
            .map(String::as_str)
            .map(ability)
            .collect(),
        orgs,
        fields: hidden_fields(request),
        csrf_token: &csrf.token,
    };
    let html = page::render(&page).map_err(|e| page_internal(state, &e))?;
    let mut response = (StatusCode::OK, html).into_response();
    cookies::append(response.headers_mut(), [csrf.set_cookie]);
    Ok(response)
}

/// The request's parameters for the consent form to send back, as they came.
fn hidden_fields(r: &AuthorizeRequest) -> Vec<(&'static str, String)> {
    [
        ("response_type", &r.response_type),
        ("client_id", &r.client_id),
        ("redirect_uri", &r.redirect_uri),
        ("scope", &r.scope),
        ("state", &r.state),
        ("code_challenge", &r.code_challenge),
        ("code_challenge_method", &r.code_challenge_method),
        ("nonce", &r.nonce),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
    .collect()
}

/// What a scope lets a client do, in words; an operator's own scope is shown by name.
fn ability(scope: &str) -> String {
    match scope {
        "openid" => "know who you are when you sign in".into(),
        "profile" => "see your name, username and whether you are staff".into(),
        "email" => "see your email address".into(),
        "user_id" => "see your numeric user id".into(),
        "read" => "read your data".into(),
        "write" => "change your data".into(),
        "grades:read" => "read your grades".into(),
        "certificates:read" => "read your certificates".into(),
        "tpa:read" => "read your linked third-party accounts".into(),
        other => format!("use the permission \u{201c}{other}\u{201d}"),
    }
}

/// `302` to the login page, whose `next` brings the user back to this request (by GET, even if
/// it came by POST).
fn to_login(request: &AuthorizeRequest) -> Response {
    let query = serde_urlencoded::to_string(request).unwrap_or_default();
    let login = next::login_url(&format!("/oauth2/authorize?{query}"));
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&login) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

fn bad_request<S: Store>(state: &AppState<S>, detail: impl Into<String>) -> WebError {
    WebError::new(
        WebErrorKind::BadRequest,
        detail,
        Shape::Page(state.web.branding.clone()),
    )
}

fn page_internal<S: Store>(state: &AppState<S>, e: &dyn std::error::Error) -> WebError {
    WebError::internal(e, Shape::Page(state.web.branding.clone()))
}
