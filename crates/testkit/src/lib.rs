//! Dev-only: a real Latchkey server on a random loopback port, over a fresh SQLite file or a fresh
//! PostgreSQL database, for integration tests of the server, the guard and the CLI.
//!
//! PostgreSQL is `LATCHKEY_TEST_POSTGRES_URL`, else the machine's `postgres://postgres@127.0.0.1:5432/postgres`;
//! when it cannot be reached, [`TestServer::postgres`] panics: a required suite never skips.
//!
//! ```no_run
//! # async fn demo() {
//! let server = latchkey_testkit::TestServer::sqlite().await;
//! let alice = server.user("alice", "alice-password").await;
//! assert_eq!(alice.username, "alice");
//! println!("{}", server.url("/oauth2/jwks.json"));
//! # }
//! ```
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod browser;

use std::sync::Arc;

use latchkey_core::admin::{Admin, ClientSpec, SavedClient, UserSpec};
use latchkey_core::authz::AuthzService;
use latchkey_core::keys::{KeyEncryptionKey, KeyManager};
use latchkey_core::password::PasswordParams;
use latchkey_core::random::{OsRandom, Random};
use latchkey_core::revocation_feed::RevocationFeed;
use latchkey_core::secret::{Secret, SecretHasher};
use latchkey_core::store::Store;
use latchkey_core::throttle::Counting;
use latchkey_core::tokens::TokenService;
use latchkey_core::user::User;
use latchkey_server::clock::now;
use latchkey_server::notices::Caches;
use latchkey_server::services::{self, ServiceSettings};
use latchkey_server::{AppState, ForwardedHeader, HttpSettings, TrustedProxies};
use latchkey_store::{Backend, PgStore, SqliteStore};
use tokio::sync::oneshot;

pub use latchkey_server::services::ServiceSettings as Settings;

/// The one MFE origin every test server allows through CORS (`[cors] origins`).
pub const MFE_ORIGIN: &str = "https://apps.example.org";

/// Settings for tests: argon2id at a small cost so that tests are quick (hashing is not what they test).
pub fn test_settings() -> ServiceSettings {
    ServiceSettings {
        passwords: PasswordParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        },
        ..ServiceSettings::default()
    }
}

pub struct TestServer<S: Store> {
    pub base: String,
    pub store: Arc<S>,
    pub tokens: Arc<TokenService<S>>,
    pub keys: Arc<KeyManager<S>>,
    pub admin: Arc<Admin<S>>,
    pub authz: Arc<AuthzService<S>>,
    pub feed: Arc<RevocationFeed<S>>,
    /// How this server was made, so [`TestServer::another_node`] can make a second one like it.
    database_url: String,
    master: [u8; 32],
    settings: ServiceSettings,
    http: HttpSettings,
    stop: Option<oneshot::Sender<()>>,
    janitor: Option<tokio::task::AbortHandle>,
    notices: tokio::task::AbortHandle,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer<SqliteStore> {
    pub async fn sqlite() -> Self {
        Self::sqlite_with(test_settings()).await
    }

    pub async fn sqlite_with(settings: ServiceSettings) -> Self {
        Self::sqlite_with_all(settings, HttpSettings::default()).await
    }

    /// With these HTTP limits (timeouts, connection cap), for tests of the limits themselves.
    pub async fn sqlite_with_http(http: HttpSettings) -> Self {
        Self::sqlite_with_all(test_settings(), http).await
    }

    async fn sqlite_with_all(settings: ServiceSettings, http: HttpSettings) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/latchkey.db", dir.path().display());
        let Backend::Sqlite(store) = latchkey_store::open(&url).await.expect("open SQLite") else {
            unreachable!("an sqlite:// URL opens SQLite")
        };
        let store = Arc::new(store);
        start(
            store,
            Counting::InProcess,
            url,
            settings,
            http,
            None,
            Some(dir),
        )
        .await
    }
}

impl TestServer<PgStore> {
    pub async fn postgres() -> Self {
        Self::postgres_with(test_settings()).await
    }

    pub async fn postgres_with(settings: ServiceSettings) -> Self {
        let url = fresh_postgres_database().await;
        let Backend::Postgres(store) = latchkey_store::open(&url).await.expect("open PostgreSQL")
        else {
            unreachable!("a postgres:// URL opens PostgreSQL")
        };
        let store = Arc::new(store);
        let counting = Counting::Shared(store.clone());
        start(
            store,
            counting,
            url,
            settings,
            HttpSettings::default(),
            None,
            None,
        )
        .await
    }

    /// A second node on the same database with the same installation secret, as a scale-out
    /// deployment runs: what one node writes, the other reads.
    pub async fn another_node(&self) -> Self {
        let Backend::Postgres(store) = latchkey_store::open(&self.database_url)
            .await
            .expect("open PostgreSQL")
        else {
            unreachable!("a postgres:// URL opens PostgreSQL")
        };
        let store = Arc::new(store);
        start(
            store.clone(),
            Counting::Shared(store),
            self.database_url.clone(),
            self.settings.clone(),
            self.http,
            Some(self.master),
            None,
        )
        .await
    }
}

/// One `#[tokio::test]` per backend for each named `async fn(TestServer<impl Store>)`:
/// `sqlite::NAME` and `postgres::NAME`, each on a fresh server made with [`test_settings`], or
/// with the settings after `=>` (`NAME => strict()`). The tokio and testkit crates must be
/// dependencies of the test crate. This is the one way tests run on both databases.
#[macro_export]
macro_rules! on_both_backends {
    (@settings) => { $crate::test_settings() };
    (@settings $settings:expr) => { $settings };
    ($($name:ident $(=> $settings:expr)?),* $(,)?) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let settings = $crate::on_both_backends!(@settings $($settings)?);
                super::$name($crate::TestServer::sqlite_with(settings).await).await;
            })*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let settings = $crate::on_both_backends!(@settings $($settings)?);
                super::$name($crate::TestServer::postgres_with(settings).await).await;
            })*
        }
    };
}

/// Creates an empty database on the test server and returns its URL.
pub async fn fresh_postgres_database() -> String {
    use sqlx::Connection;
    let admin = std::env::var("LATCHKEY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is required by this test: {e}"));
    let mut id = [0u8; 6];
    OsRandom.fill(&mut id);
    let name = format!(
        "latchkey_test_{}",
        id.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("CREATE DATABASE");
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b)
        .expect("URL has a database");
    format!("{base}/{name}")
}

/// A server on `store`, counting password attempts as `latchkey serve` does on its backend.
async fn start<S: Store>(
    store: Arc<S>,
    counting: Counting,
    database_url: String,
    settings: ServiceSettings,
    http: HttpSettings,
    master: Option<[u8; 32]>,
    dir: Option<tempfile::TempDir>,
) -> TestServer<S> {
    let given = settings.clone();
    let mut settings = settings;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    settings.tokens.issuer = format!("{base}/oauth2");
    let master = master.unwrap_or_else(|| {
        let mut master = [0u8; 32];
        OsRandom.fill(&mut master);
        master
    });
    let built = services::build(
        settings,
        counting,
        store.clone(),
        KeyEncryptionKey::new(&master).expect("kek"),
        SecretHasher::new(&master),
        Arc::new(OsRandom),
    )
    .await
    .expect("services");
    // The loopback peer is a trusted proxy here, so a test can speak for many client addresses
    // with `X-Forwarded-For`; requests without the header are the peer's, as in production.
    let loopback = TrustedProxies {
        proxies: vec!["127.0.0.0/8".parse().expect("a block")],
        header: ForwardedHeader::XForwardedFor,
    };
    let mut web = latchkey_server::WebSettings::for_issuer(&format!("{base}/oauth2"));
    web.cors_origins = vec![MFE_ORIGIN.to_owned()];
    let app = latchkey_server::router(
        AppState::new(&built, None)
            .with_proxies(loopback)
            .with_web(web),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let stopped = async {
        let _ = stopped.await;
    };
    tokio::spawn(latchkey_server::serve_with(listener, app, stopped, http));
    // As `latchkey serve` does: changes made elsewhere reach this node's caches at once.
    let notices = tokio::spawn(Caches::of(&built).follow()).abort_handle();
    TestServer {
        base,
        store,
        tokens: built.tokens,
        keys: built.keys,
        admin: built.admin,
        authz: built.authz,
        feed: built.feed,
        database_url,
        master,
        settings: given,
        http,
        stop: Some(stop),
        janitor: None,
        notices,
        _dir: dir,
    }
}

impl<S: Store> TestServer<S> {
    /// The keyed hasher of this server's tokens and secrets, for writing rows it will recognise
    /// (an import's tokens).
    pub fn hasher(&self) -> SecretHasher {
        SecretHasher::new(&self.master)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn issuer(&self) -> String {
        format!("{}/oauth2", self.base)
    }

    /// The keys `/oauth2/jwks.json` publishes, fetched over HTTP as a resource server would.
    pub async fn published_keys(&self) -> latchkey_token::VerifyingKeys {
        let set: latchkey_token::JwkSet = reqwest::get(self.url("/oauth2/jwks.json"))
            .await
            .expect("GET /oauth2/jwks.json")
            .json()
            .await
            .expect("a JWK set");
        latchkey_token::VerifyingKeys::from_jwk_set(&set).expect("usable keys")
    }

    /// A verified, enabled user with this password and email `<username>@example.org`.
    pub async fn user(&self, username: &str, password: &str) -> User {
        self.user_with(UserSpec {
            username: username.into(),
            email: format!("{username}@example.org"),
            name: Some(format!("{username} Example")),
            password: Some(Secret::new(password)),
            ..UserSpec::default()
        })
        .await
    }

    pub async fn user_with(&self, spec: UserSpec) -> User {
        self.admin
            .create_user(spec, now())
            .await
            .expect("create user")
    }

    pub async fn client(&self, spec: ClientSpec) -> SavedClient {
        self.admin
            .save_client(spec, false, now())
            .await
            .expect("create client")
    }

    /// A confidential client for `grant_type`, owned by `owner`, without permissions; returns
    /// (client_id, secret).
    pub async fn confidential(
        &self,
        name: &str,
        owner: &str,
        grant_type: &str,
    ) -> (String, String) {
        self.confidential_with(name, owner, grant_type, &[]).await
    }

    /// [`confidential`](Self::confidential), granted `permissions` (e.g. `"introspect"`).
    pub async fn confidential_with(
        &self,
        name: &str,
        owner: &str,
        grant_type: &str,
        permissions: &[&str],
    ) -> (String, String) {
        let saved = self
            .client(ClientSpec {
                name: name.into(),
                owner: owner.into(),
                grant_type: grant_type.into(),
                permissions: permissions.iter().map(|p| p.to_string()).collect(),
                ..ClientSpec::default()
            })
            .await;
        let secret = saved.secret.expect("a confidential client gets a secret");
        (saved.client.id, secret.expose().to_owned())
    }

    /// A public client for `grant_type`, owned by `owner`; returns its client_id.
    pub async fn public(&self, name: &str, owner: &str, grant_type: &str) -> String {
        self.client(ClientSpec {
            name: name.into(),
            owner: owner.into(),
            grant_type: grant_type.into(),
            public: true,
            ..ClientSpec::default()
        })
        .await
        .client
        .id
    }

    /// Runs the janitor every `interval`, as `latchkey serve` does (until the server is dropped):
    /// for tests of what reaches this node from others within one interval.
    pub fn run_janitor(&mut self, interval: std::time::Duration) {
        let settings = latchkey_server::janitor::JanitorSettings {
            interval,
            batch: 1000,
            // A day: never forgets a retired key a test still verifies with.
            max_jwt_lifetime: 24 * 3600,
        };
        let task = tokio::spawn(latchkey_server::janitor::run(
            self.tokens.clone(),
            self.keys.clone(),
            self.authz.clone(),
            settings,
        ));
        if let Some(old) = self.janitor.replace(task.abort_handle()) {
            old.abort();
        }
    }

    /// Waits, at most 10 s, until this node's authz engine is at the database's version: a
    /// change made through the store, the admin service or another node reaches it by notice,
    /// asynchronously. Returns that version.
    pub async fn authz_settled(&self) -> i64 {
        let start = std::time::Instant::now();
        loop {
            let stored = self.store.authz_version().await.expect("authz version");
            if self.authz.version() == stored {
                return stored;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "the node stayed at authz version {} while the database is at {stored}",
                self.authz.version()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Rotates to a new key of `alg` and makes this server sign with it at once (as
    /// `latchkey keys rotate --now` does: verifiers meet an unknown kid and must refetch).
    pub async fn rotate_keys(&self, alg: latchkey_token::Algorithm) {
        self.keys.rotate(alg, true, now()).await.expect("rotate");
        // The node's notice follower reloads too; reloads take turns from read to swap, so the
        // last one read the rotated keys.
        self.keys.reload(self.tokens.keys()).await.expect("reload");
    }
}

impl<S: Store> Drop for TestServer<S> {
    fn drop(&mut self) {
        if let Some(janitor) = self.janitor.take() {
            janitor.abort();
        }
        self.notices.abort();
        self.authz.close_feed();
        self.feed.close();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
