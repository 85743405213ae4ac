//! A browser without JavaScript for tests: it keeps the cookies the server sets (with their
//! attributes, to assert on), sends them back, and never follows redirects, so a test sees every
//! `302` and `Location`. The Playwright suite drives a real one.

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, HeaderValue, COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::{Method, RequestBuilder, Response};

/// One `Set-Cookie` as received: its value and its attributes (`Path=/`, `HttpOnly`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetCookie {
    pub value: String,
    /// Lowercased attribute names, with their values (`""` for flags).
    pub attributes: BTreeMap<String, String>,
}

impl SetCookie {
    pub fn parse(line: &str) -> Option<(String, SetCookie)> {
        let mut parts = line.split(';');
        let (name, value) = parts.next()?.trim().split_once('=')?;
        let attributes = parts
            .map(|a| {
                let a = a.trim();
                match a.split_once('=') {
                    Some((k, v)) => (k.to_ascii_lowercase(), v.to_owned()),
                    None => (a.to_ascii_lowercase(), String::new()),
                }
            })
            .collect();
        Some((
            name.to_owned(),
            SetCookie {
                value: value.to_owned(),
                attributes,
            },
        ))
    }

    pub fn has(&self, attribute: &str) -> bool {
        self.attributes
            .contains_key(&attribute.to_ascii_lowercase())
    }

    pub fn attribute(&self, attribute: &str) -> Option<&str> {
        self.attributes
            .get(&attribute.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// A deletion: expired at once.
    pub fn deletes(&self) -> bool {
        self.attribute("max-age") == Some("0")
    }
}

/// Every `Set-Cookie` of a response, by cookie name.
pub fn set_cookies(headers: &HeaderMap) -> BTreeMap<String, SetCookie> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(SetCookie::parse)
        .collect()
}

pub struct Browser {
    base: String,
    http: reqwest::Client,
    /// The cookie jar: name to value (one host, so names are enough).
    pub jar: BTreeMap<String, String>,
}

impl Browser {
    /// A browser with no cookies, for the server at `base` (`http://127.0.0.1:port`).
    pub fn new(base: &str) -> Self {
        Browser {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap_or_default(),
            jar: BTreeMap::new(),
        }
    }

    /// A request to `path` carrying the jar's cookies; send it with [`Browser::send`].
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if !self.jar.is_empty() {
            let line = self
                .jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            if let Ok(v) = HeaderValue::from_str(&line) {
                request = request.header(COOKIE, v);
            }
        }
        request
    }

    /// Sends `request` and takes in the cookies it sets or deletes.
    pub async fn send(&mut self, request: RequestBuilder) -> reqwest::Result<Response> {
        let response = request.send().await?;
        for (name, cookie) in set_cookies(response.headers()) {
            if cookie.deletes() {
                self.jar.remove(&name);
            } else {
                self.jar.insert(name, cookie.value);
            }
        }
        Ok(response)
    }

    /// A page as a browser navigates to it (`Accept: text/html`).
    pub async fn get_page(&mut self, path: &str) -> reqwest::Result<Response> {
        let request = self
            .request(Method::GET, path)
            .header("accept", "text/html,application/xhtml+xml");
        self.send(request).await
    }

    /// A CSRF token from `GET /csrf/api/v1/token`, as frontend-platform gets one (the cookie
    /// lands in the jar).
    pub async fn csrf_token(&mut self) -> String {
        let request = self.request(Method::GET, "/csrf/api/v1/token");
        let Ok(response) = self.send(request).await else {
            return String::new();
        };
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        body["csrfToken"].as_str().unwrap_or_default().to_owned()
    }

    /// Signs in through the HTML form as a person would: the page, then the form with its
    /// hidden CSRF field. Returns the response (a `302` on success).
    pub async fn log_in(
        &mut self,
        username: &str,
        password: &str,
        remember: bool,
    ) -> reqwest::Result<Response> {
        let token = self.csrf_token().await;
        let mut form = vec![
            ("username", username),
            ("password", password),
            ("csrfmiddlewaretoken", token.as_str()),
        ];
        if remember {
            form.push(("remember", "on"));
        }
        let request = self
            .request(Method::POST, "/login")
            .header("accept", "text/html")
            .form(&form);
        self.send(request).await
    }
}
