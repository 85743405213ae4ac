//! What every handler shares.

use std::sync::Arc;

use latchkey_core::authz::AuthzService;
use latchkey_core::random::Random;
use latchkey_core::request::Grant;
use latchkey_core::revocation_feed::RevocationFeed;
use latchkey_core::session::Sessions;
use latchkey_core::store::Store;
use latchkey_core::tokens::TokenService;
use latchkey_proto::Discovery;
use latchkey_token::Algorithm;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::extract::client_ip::TrustedProxies;
use crate::services::Services;
use crate::web::WebSettings;

pub struct AppState<S> {
    pub tokens: Arc<TokenService<S>>,
    pub authz: Arc<AuthzService<S>>,
    pub feed: Arc<RevocationFeed<S>>,
    /// Serialised once at start: the document only changes with the configuration.
    pub discovery: Arc<str>,
    pub metrics: Option<PrometheusHandle>,
    /// Whose forwarding headers name the client (none unless configured).
    pub proxies: Arc<TrustedProxies>,
    pub sessions: Arc<Sessions<S>>,
    /// Cookies, CORS and branding of the browser endpoints.
    pub web: Arc<WebSettings>,
    pub random: Arc<dyn Random>,
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            tokens: self.tokens.clone(),
            authz: self.authz.clone(),
            feed: self.feed.clone(),
            discovery: self.discovery.clone(),
            metrics: self.metrics.clone(),
            proxies: self.proxies.clone(),
            sessions: self.sessions.clone(),
            web: self.web.clone(),
            random: self.random.clone(),
        }
    }
}

impl<S: Store> AppState<S> {
    /// The state of a server over `services`, with the browser defaults for its issuer.
    pub fn new(services: &Services<S>, metrics: Option<PrometheusHandle>) -> Self {
        let tokens = services.tokens.clone();
        let web = WebSettings::for_issuer(&tokens.settings().issuer);
        let discovery = discovery_document(&tokens);
        let discovery = serde_json::to_string(&discovery)
            .unwrap_or_else(|_| "{}".to_owned())
            .into();
        AppState {
            tokens,
            authz: services.authz.clone(),
            feed: services.feed.clone(),
            discovery,
            metrics,
            proxies: Arc::default(),
            sessions: services.sessions.clone(),
            web: Arc::new(web),
            random: services.random.clone(),
        }
    }

    /// Serves the browser endpoints with these cookie, CORS and branding settings.
    pub fn with_web(mut self, web: WebSettings) -> Self {
        self.web = Arc::new(web);
        self
    }

    /// Reads client addresses from `proxies`' forwarding headers.
    pub fn with_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = Arc::new(proxies);
        self
    }
}

/// RFC 8414 metadata listing only what this server implements.
pub fn discovery_document<S: Store>(tokens: &TokenService<S>) -> Discovery {
    let issuer = tokens.settings().issuer.trim_end_matches('/').to_owned();
    // Open edX issuers are `<origin>/oauth2`, and so are Latchkey's routes.
    let base = format!("{}/oauth2", issuer.trim_end_matches("/oauth2"));
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let auth_methods = strings(&["client_secret_basic", "client_secret_post", "none"]);
    // Whatever the current key's algorithm: a rotation (`keys rotate --alg`) may change it.
    let signing_algs: Vec<String> = Algorithm::ALL
        .iter()
        .map(|alg| alg.as_str().to_owned())
        .collect();
    Discovery {
        authorization_endpoint: format!("{base}/authorize"),
        token_endpoint: format!("{base}/access_token"),
        userinfo_endpoint: format!("{base}/userinfo"),
        jwks_uri: format!("{base}/jwks.json"),
        revocation_endpoint: format!("{base}/revoke_token"),
        introspection_endpoint: format!("{base}/introspect"),
        grant_types_supported: strings(Grant::SUPPORTED),
        response_types_supported: strings(&["code"]),
        code_challenge_methods_supported: strings(&["S256"]),
        scopes_supported: tokens.scopes().all().to_vec(),
        token_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint_auth_methods_supported: auth_methods,
        introspection_endpoint_auth_methods_supported: strings(&[
            "client_secret_basic",
            "client_secret_post",
        ]),
        introspection_signing_alg_values_supported: signing_algs.clone(),
        id_token_signing_alg_values_supported: signing_algs,
        subject_types_supported: strings(&["public"]),
        claims_supported: strings(&[
            "iss",
            "aud",
            "exp",
            "iat",
            "jti",
            "sub",
            "preferred_username",
            "scopes",
            "filters",
            "is_restricted",
            "email_verified",
            "grant_type",
            "version",
            "client_id",
            "user_id",
            "email",
            "name",
            "given_name",
            "family_name",
            "administrator",
            "superuser",
            "auth_time",
            "nonce",
        ]),
        issuer,
    }
}
