//! Talking to the issuer over HTTP: its discovery document, and bounded JSON requests (some with
//! the guard's own client credentials). Every answer is size-capped and time-limited; nothing
//! here retries (the callers decide when to try again).

use std::time::Duration;

use latchkey_proto::ErrorResponse;
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::config::{is_allowed_url, ClientSecret};

/// Largest answer read from the issuer; a JWK Set or a discovery document is a few KiB.
const MAX_BODY: usize = 1024 * 1024;

/// Why a request to the issuer failed. Operator-side: logged, never sent to clients.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("{url}: {source}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: HTTP {status}{}", described(.description))]
    Status {
        url: String,
        status: StatusCode,
        /// The RFC 6749 §5.2 `error_description` of the answer, when it has one.
        description: Option<String>,
    },
    #[error("{url}: answer larger than {MAX_BODY} bytes")]
    TooLarge { url: String },
    #[error("{url}: answer is not the expected JSON: {source}")]
    Json {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("no discovery document for issuer {0} (tried {1})")]
    NoDiscovery(String, String),
    #[error("discovery document: {0}")]
    BadDiscovery(String),
}

fn described(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

/// The endpoints the discovery document names.
#[derive(Clone, Debug)]
pub(crate) struct Endpoints {
    pub(crate) jwks_uri: Url,
    pub(crate) introspection_endpoint: Option<Url>,
}

/// RFC 8414 §2 / OpenID Connect Discovery §3: the members we use; the rest is ignored.
#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    jwks_uri: String,
    #[serde(default)]
    introspection_endpoint: Option<String>,
}

/// The issuer as an HTTP peer.
pub(crate) struct Issuer {
    http: reqwest::Client,
    issuer: Url,
    plain_http: bool,
    discovered: OnceCell<Endpoints>,
}

impl Issuer {
    pub(crate) fn new(issuer: Url, timeout: Duration, plain_http: bool) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect could lead a key fetch to another host: the issuer names its endpoints.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Issuer {
            http,
            issuer,
            plain_http,
            discovered: OnceCell::new(),
        })
    }

    /// The discovery document's endpoints, fetched once (a failure is retried on the next call).
    pub(crate) async fn endpoints(&self) -> Result<&Endpoints, FetchError> {
        self.discovered.get_or_try_init(|| self.discover()).await
    }

    async fn discover(&self) -> Result<Endpoints, FetchError> {
        let mut tried = Vec::new();
        for url in discovery_urls(&self.issuer) {
            match self.get_json::<DiscoveryDocument>(&url).await {
                Ok(doc) => return self.endpoints_of(doc),
                Err(FetchError::Status { status, .. }) if status == StatusCode::NOT_FOUND => {
                    tried.push(url.to_string());
                }
                Err(e) => return Err(e),
            }
        }
        Err(FetchError::NoDiscovery(
            self.issuer.to_string(),
            tried.join(", "),
        ))
    }

    fn endpoints_of(&self, doc: DiscoveryDocument) -> Result<Endpoints, FetchError> {
        // OpenID Connect Discovery §4.3 / RFC 8414 §3.3: the document must be the issuer's own.
        if doc.issuer.trim_end_matches('/') != self.issuer.as_str().trim_end_matches('/') {
            return Err(FetchError::BadDiscovery(format!(
                "its issuer {} is not {}",
                doc.issuer, self.issuer
            )));
        }
        let url = |value: &str| {
            Url::parse(value)
                .ok()
                .filter(|u| is_allowed_url(u, self.plain_http))
                .ok_or_else(|| FetchError::BadDiscovery(format!("unusable endpoint {value}")))
        };
        Ok(Endpoints {
            jwks_uri: url(&doc.jwks_uri)?,
            introspection_endpoint: doc.introspection_endpoint.as_deref().map(url).transpose()?,
        })
    }

    /// GET `url` and parse its JSON.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: &Url) -> Result<T, FetchError> {
        let request = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        self.send_json(url, request).await
    }

    /// POST a form with HTTP Basic client authentication, and parse the JSON answer.
    pub(crate) async fn post_form_json<T: DeserializeOwned>(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        client: Credentials<'_>,
    ) -> Result<T, FetchError> {
        let request = client.authorize(self.http.post(url.clone())).form(form);
        self.send_json(url, request).await
    }

    /// POST a JSON body with HTTP Basic client authentication, and parse the JSON answer.
    pub(crate) async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        url: &Url,
        body: &B,
        client: Credentials<'_>,
    ) -> Result<T, FetchError> {
        let request = client.authorize(self.http.post(url.clone())).json(body);
        self.send_json(url, request).await
    }

    /// GET `url` with HTTP Basic client authentication, allowed to take `timeout` instead of the
    /// usual one (a long poll), and parse the JSON answer.
    pub(crate) async fn get_json_as<T: DeserializeOwned>(
        &self,
        url: &Url,
        client: Credentials<'_>,
        timeout: Duration,
    ) -> Result<T, FetchError> {
        let request = client
            .authorize(self.http.get(url.clone()))
            .timeout(timeout);
        self.send_json(url, request).await
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<T, FetchError> {
        let http = |source| FetchError::Http {
            url: url.to_string(),
            source,
        };
        let mut response = request.send().await.map_err(http)?;
        let status = response.status();
        if !status.is_success() {
            // The server's own words, when it says something in RFC 6749 §5.2 form.
            let description = Self::read(url, &mut response)
                .await
                .ok()
                .and_then(|body| serde_json::from_slice::<ErrorResponse>(&body).ok())
                .and_then(|e| e.error_description);
            return Err(FetchError::Status {
                url: url.to_string(),
                status,
                description,
            });
        }
        let body = Self::read(url, &mut response).await?;
        serde_json::from_slice(&body).map_err(|source| FetchError::Json {
            url: url.to_string(),
            source,
        })
    }

    /// The body, at most [`MAX_BODY`] bytes of it.
    async fn read(url: &Url, response: &mut reqwest::Response) -> Result<Vec<u8>, FetchError> {
        let http = |source| FetchError::Http {
            url: url.to_string(),
            source,
        };
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(FetchError::TooLarge {
                    url: url.to_string(),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// A confidential client's id and secret, sent with HTTP Basic.
#[derive(Clone, Copy)]
pub(crate) struct Credentials<'a> {
    pub(crate) id: &'a str,
    pub(crate) secret: &'a ClientSecret,
}

impl Credentials<'_> {
    /// RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined.
    fn authorize(self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        request
            .basic_auth(encode(self.id), Some(encode(self.secret.expose())))
            .header(reqwest::header::ACCEPT, "application/json")
    }
}

/// Where an issuer's discovery document may be, in the order tried: OpenID Connect Discovery §4
/// (`<issuer>/.well-known/openid-configuration`), RFC 8414 §3.1 (the well-known segment between
/// host and path), and the origin's own `/.well-known/openid-configuration`, where Latchkey and
/// Open edX serve it for an issuer `<origin>/oauth2`.
fn discovery_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let mut urls = Vec::with_capacity(3);
    let mut push = |p: String| {
        let mut url = issuer.clone();
        url.set_path(&p);
        url.set_query(None);
        url.set_fragment(None);
        if !urls.contains(&url) {
            urls.push(url);
        }
    };
    push(format!("{path}/.well-known/openid-configuration"));
    push(format!("/.well-known/oauth-authorization-server{path}"));
    push("/.well-known/openid-configuration".into());
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_locations() {
        let urls = discovery_urls(&Url::parse("https://lms.example.com/oauth2/").unwrap());
        let urls: Vec<String> = urls.iter().map(Url::to_string).collect();
        assert_eq!(
            urls,
            [
                "https://lms.example.com/oauth2/.well-known/openid-configuration",
                "https://lms.example.com/.well-known/oauth-authorization-server/oauth2",
                "https://lms.example.com/.well-known/openid-configuration",
            ]
        );
        let root = discovery_urls(&Url::parse("https://idp.example.com").unwrap());
        assert_eq!(root.len(), 2);
    }

    #[test]
    fn discovery_must_name_our_issuer() {
        let issuer = Issuer::new(
            Url::parse("https://lms.example.com/oauth2").unwrap(),
            Duration::from_secs(1),
            false,
        )
        .unwrap();
        let doc = |iss: &str, jwks: &str| DiscoveryDocument {
            issuer: iss.into(),
            jwks_uri: jwks.into(),
            introspection_endpoint: None,
        };
        let ok = issuer
            .endpoints_of(doc(
                "https://lms.example.com/oauth2",
                "https://lms.example.com/oauth2/jwks.json",
            ))
            .unwrap();
        assert_eq!(ok.jwks_uri.path(), "/oauth2/jwks.json");
        assert!(issuer
            .endpoints_of(doc("https://evil.example.com/oauth2", "https://x/jwks"))
            .is_err());
        assert!(issuer
            .endpoints_of(doc(
                "https://lms.example.com/oauth2",
                "http://x.example/jwks"
            ))
            .is_err());
    }
}
