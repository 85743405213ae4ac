//! The `latchkey` binary as operators and scripts use it: exit codes, messages, effects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::{fails_with, json, latchkey, latchkey_with_stdin, ok};

/// A `latchkey serve` child that is killed if the test fails before stopping it.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for a `latchkey serve` child at `base` to answer ready.
fn until_ready(http: &reqwest::blocking::Client, base: &str) {
    let started = Instant::now();
    while http
        .get(format!("{base}/health/ready"))
        .send()
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "server did not become ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A loopback address no one listens on (yet).
fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// `latchkey serve` in `dir` on `addr`, with a 1 s janitor interval, once it answers ready.
fn serve(dir: &std::path::Path, addr: &str, args: &[&str]) -> Serving {
    let server = Serving(
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(["serve", "--listen", addr])
            .args(args)
            .current_dir(dir)
            .env("LATCHKEY_JANITOR__INTERVAL_SECS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    until_ready(&reqwest::blocking::Client::new(), &format!("http://{addr}"));
    server
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(&latchkey_with_stdin(
        dir.path(),
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.org",
            "--password-stdin",
        ],
        "alice-password\n",
    ));
    dir
}

#[test]
fn users_and_clients_are_created_listed_and_refused_when_bad() {
    let dir = setup();
    let d = dir.path();
    assert!(
        d.join("latchkey.db").exists(),
        "SQLite file made on first use"
    );
    let key = std::fs::metadata(d.join("latchkey.key")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            key.permissions().mode() & 0o777,
            0o600,
            "key file is private"
        );
    }

    fails_with(
        &latchkey(
            d,
            &[
                "user",
                "create",
                "--username",
                "alice",
                "--email",
                "other@example.org",
            ],
        ),
        "username already exists",
    );
    fails_with(
        &latchkey(
            d,
            &[
                "user",
                "create",
                "--username",
                "alice2",
                "--email",
                "ALICE@example.org",
            ],
        ),
        "email already exists",
    );
    fails_with(
        &latchkey(
            d,
            &[
                "user",
                "create",
                "--username",
                "bad name",
                "--email",
                "b@example.org",
            ],
        ),
        "username must be",
    );
    let users = json(&latchkey(d, &["user", "list", "--json"]));
    assert_eq!(
        users.as_array().unwrap().len(),
        1,
        "refused creations changed nothing"
    );

    let created = json(&latchkey(
        d,
        &[
            "client",
            "create",
            "svc",
            "alice",
            "--grant-type",
            "client-credentials",
            "--scopes",
            "grades:read",
            "--json",
        ],
    ));
    let secret = created["client_secret"].as_str().unwrap();
    assert!(
        secret.len() >= 43,
        "a generated secret has at least 256 bits"
    );
    let public = json(&latchkey(
        d,
        &[
            "client",
            "create",
            "mobile",
            "alice",
            "--grant-type",
            "password",
            "--public",
            "--json",
        ],
    ));
    assert!(public["client_secret"].is_null());

    for (args, needle) in [
        (
            vec![
                "client",
                "create",
                "x",
                "alice",
                "--grant-type",
                "password",
                "--public",
                "--client-secret",
                "0123456789abcdef0",
            ],
            "public client cannot have a client secret",
        ),
        (
            vec!["client", "create", "x", "alice", "--grant-type", "implicit"],
            "unknown grant type \"implicit\"",
        ),
        (
            vec![
                "client",
                "create",
                "x",
                "alice",
                "--grant-type",
                "authorization-code",
                "--redirect-uris",
                "/relative/cb",
            ],
            "is not an absolute URI",
        ),
        (
            vec![
                "client",
                "create",
                "x",
                "nobody",
                "--grant-type",
                "password",
            ],
            "no user named \"nobody\"",
        ),
        (
            vec![
                "client",
                "create",
                "svc",
                "alice",
                "--grant-type",
                "password",
            ],
            "already has a client with this name",
        ),
        (
            vec![
                "client",
                "create",
                "x",
                "alice",
                "--grant-type",
                "password",
                "--scopes",
                "nope",
            ],
            "scope \"nope\" is not registered",
        ),
    ] {
        fails_with(&latchkey(d, &args), needle);
    }
    let clients = json(&latchkey(d, &["client", "list", "--json"]));
    assert_eq!(
        clients.as_array().unwrap().len(),
        2,
        "refused clients changed nothing"
    );

    // --update changes the client of that name and owner, keeping its id and secret.
    let updated = json(&latchkey(
        d,
        &[
            "client",
            "create",
            "svc",
            "alice",
            "--grant-type",
            "client-credentials",
            "--restricted",
            "--update",
            "--json",
        ],
    ));
    assert_eq!(updated["client_id"], created["client_id"]);
    assert!(
        updated["client_secret"].is_null(),
        "the old secret is kept and not shown again"
    );
    let clients = json(&latchkey(d, &["client", "list", "--json"]));
    let svc = clients
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "svc")
        .unwrap();
    assert_eq!(svc["restricted"], true);

    ok(&latchkey(d, &["user", "disable", "alice"]));
    let users = json(&latchkey(d, &["user", "list", "--json"]));
    assert_eq!(users[0]["disabled"], true);
    fails_with(
        &latchkey(d, &["user", "enable", "nobody"]),
        "no user named \"nobody\"",
    );
}

#[test]
fn client_permissions_are_granted_revoked_and_listed() {
    let dir = setup();
    let d = dir.path();
    let client = |extra: &[&str]| {
        let mut args = vec![
            "client",
            "create",
            "rs",
            "alice",
            "--grant-type",
            "client-credentials",
        ];
        args.extend_from_slice(extra);
        latchkey(d, &args)
    };
    let held = |name: &str| {
        let clients = json(&latchkey(d, &["client", "list", "--json"]));
        let found = clients
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name);
        found.unwrap()["permissions"].clone()
    };

    let created = json(&client(&[
        "--permission",
        "authz:read",
        "--permission",
        "introspect",
        "--json",
    ]));
    assert_eq!(created["permissions"], json!(["introspect", "authz:read"]));
    assert_eq!(held("rs"), json!(["introspect", "authz:read"]));
    json(&latchkey(
        d,
        &[
            "client",
            "create",
            "plain",
            "alice",
            "--grant-type",
            "password",
            "--json",
        ],
    ));
    assert_eq!(held("plain"), json!([]), "nothing is granted unasked");
    let minter = json(&latchkey(
        d,
        &[
            "client",
            "create",
            "minter",
            "alice",
            "--grant-type",
            "client-credentials",
            "--permission",
            "token:mint",
            "--json",
        ],
    ));
    assert_eq!(minter["permissions"], json!(["token:mint"]));
    assert_eq!(held("minter"), json!(["token:mint"]));

    // On update, grants add to and revocations take from what the client holds.
    let updated = json(&client(&[
        "--update",
        "--permission",
        "authz:write",
        "--revoke-permission",
        "introspect",
        "--json",
    ]));
    assert!(updated["client_secret"].is_null());
    assert_eq!(updated["permissions"], json!(["authz:read", "authz:write"]));
    json(&client(&["--update", "--json"]));
    assert_eq!(held("rs"), json!(["authz:read", "authz:write"]), "kept");
    json(&client(&[
        "--update",
        "--permission",
        "introspect,authz:read",
        "--json",
    ]));
    assert_eq!(
        held("rs"),
        json!(["introspect", "authz:read", "authz:write"])
    );
    let table = ok(&latchkey(d, &["client", "list"]));
    assert!(
        table.lines().next().unwrap().ends_with("PERMISSIONS"),
        "{table}"
    );
    assert!(
        table.contains("confidential  introspect,authz:read,authz:write"),
        "{table}"
    );

    for (args, needle) in [
        (
            vec![
                "client",
                "create",
                "app",
                "alice",
                "--grant-type",
                "password",
                "--public",
                "--permission",
                "introspect",
            ],
            "a public client cannot hold permissions (it would hold introspect)",
        ),
        (
            vec![
                "client",
                "create",
                "rs",
                "alice",
                "--grant-type",
                "client-credentials",
                "--update",
                "--public",
            ],
            "a public client cannot hold permissions (it would hold introspect, authz:read, \
             authz:write)",
        ),
        (
            vec![
                "client",
                "create",
                "x",
                "alice",
                "--grant-type",
                "client-credentials",
                "--permission",
                "authz:admin",
            ],
            "unknown permission \"authz:admin\": expected introspect, authz:read, authz:write or \
             token:mint",
        ),
        (
            vec![
                "client",
                "create",
                "rs",
                "alice",
                "--grant-type",
                "client-credentials",
                "--update",
                "--permission",
                "introspect",
                "--revoke-permission",
                "introspect",
            ],
            "permission introspect is both granted and revoked",
        ),
    ] {
        fails_with(&latchkey(d, &args), needle);
    }
    let out = client(&["--revoke-permission", "introspect"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--revoke-permission needs --update"
    );
    assert_eq!(
        held("rs"),
        json!(["introspect", "authz:read", "authz:write"])
    );
    assert_eq!(
        json(&latchkey(d, &["client", "list", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        3,
        "refused changes changed nothing"
    );

    // Made public once its permissions are revoked.
    let public = json(&client(&[
        "--update",
        "--public",
        "--revoke-permission",
        "introspect,authz:read,authz:write",
        "--json",
    ]));
    assert_eq!(public["permissions"], json!([]));
}

#[test]
fn bad_settings_stop_with_a_message_that_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails_with(
        &latchkey(d, &["--database-url", "mysql://x/y", "user", "list"]),
        "database_url",
    );
    fails_with(
        &latchkey(
            d,
            &[
                "--database-url",
                "postgres://u@127.0.0.1:1/x?sslmode=bogus",
                "user",
                "list",
            ],
        ),
        "database",
    );
    fails_with(
        &latchkey(d, &["--config", "/no/such.toml", "user", "list"]),
        "/no/such.toml",
    );
    std::fs::write(d.join("bad.toml"), "colour = \"blue\"\n").unwrap();
    fails_with(
        &latchkey(d, &["--config", "bad.toml", "user", "list"]),
        "colour",
    );
    std::fs::write(d.join("bad.toml"), "[tokens]\njwt_lifetime = -5\n").unwrap();
    fails_with(
        &latchkey(d, &["--config", "bad.toml", "user", "list"]),
        "tokens.jwt_lifetime",
    );
    assert!(
        !d.join("latchkey.db").exists(),
        "nothing was created by a refused start"
    );
    let usage = latchkey(d, &["user", "frobnicate"]);
    assert_eq!(usage.status.code(), Some(2), "bad usage exits 2");
}

#[test]
fn serve_publishes_a_jwks_that_verifies_stored_keys_and_rotations() {
    let dir = setup();
    let d = dir.path();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let addr = format!("127.0.0.1:{port}");
    let issuer = format!("http://{addr}/oauth2");
    // The issuer comes from a config file, so that `token mint` uses it too.
    std::fs::write(d.join("latchkey.toml"), format!("issuer = \"{issuer}\"\n")).unwrap();
    let mut server = Serving(
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(["serve", "--listen", &addr, "--config", "latchkey.toml"])
            .current_dir(d)
            .env("LATCHKEY_JANITOR__INTERVAL_SECS", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://{addr}");
    let http = reqwest::blocking::Client::new();
    until_ready(&http, &base);
    let discovery: Value = http
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(discovery["issuer"], issuer);
    assert_eq!(discovery["jwks_uri"], format!("{issuer}/jwks.json"));
    let same: Value = http
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(same, discovery);

    // A JWT signed by the stored private key (minted by the CLI against the same database)
    // verifies with the published RSA key, checked by an independent JOSE implementation.
    // A key promoted by another process is published once the server reloads (every janitor
    // interval, 1 s here); a verifier meeting an unknown kid refetches, as this one does.
    let verify = |token: &str| -> Value {
        let header = jsonwebtoken::decode_header(token).unwrap();
        let kid = header.kid.clone().unwrap();
        let started = Instant::now();
        let jwks = loop {
            let jwks: jsonwebtoken::jwk::JwkSet = http
                .get(format!("{base}/oauth2/jwks.json"))
                .send()
                .unwrap()
                .json()
                .unwrap();
            if jwks.find(&kid).is_some() || started.elapsed() > Duration::from_secs(10) {
                break jwks;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let jwk = jwks
            .find(&kid)
            .unwrap_or_else(|| panic!("kid {kid} is not published: {jwks:?}"));
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(header.alg);
        v.set_audience(&["latchkey"]);
        v.set_issuer(&[issuer.as_str()]);
        jsonwebtoken::decode::<Value>(token, &key, &v)
            .unwrap()
            .claims
    };
    let minted = ok(&latchkey(
        d,
        &["--config", "latchkey.toml", "token", "mint", "alice"],
    ));
    let minted = minted.trim();
    assert_eq!(
        jsonwebtoken::decode_header(minted).unwrap().alg,
        jsonwebtoken::Algorithm::RS512
    );
    let claims = verify(minted);
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["token_use"], "service");
    assert_eq!(claims["scopes"], serde_json::json!(["email", "profile"]));

    // First start published an RS512 `next` key: the default rotation promotes it at once.
    let keys: Value = serde_json::from_str(&ok(&latchkey(d, &["keys", "list", "--json"]))).unwrap();
    let next_kid = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] == "next")
        .unwrap()["kid"]
        .clone();
    let jwks: Value = http
        .get(format!("{base}/oauth2/jwks.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == next_kid),
        "next key published before it signs"
    );
    assert!(ok(&latchkey(d, &["keys", "rotate"])).contains("now signing with"));
    // Another algorithm is staged first (published as next), and signs after the second rotation.
    assert!(ok(&latchkey(d, &["keys", "rotate", "--alg", "ES256"])).contains("published"));
    let keys: Value = serde_json::from_str(&ok(&latchkey(d, &["keys", "list", "--json"]))).unwrap();
    let staged = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == "ES256")
        .unwrap()
        .clone();
    assert_eq!(staged["state"], "next");
    let started = Instant::now();
    loop {
        let jwks: Value = http
            .get(format!("{base}/oauth2/jwks.json"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == staged["kid"])
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the staged key was never published"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(ok(&latchkey(d, &["keys", "rotate", "--alg", "ES256"])).contains("now signing with"));
    let keys: Value = serde_json::from_str(&ok(&latchkey(d, &["keys", "list", "--json"]))).unwrap();
    let states: Vec<(String, String)> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["alg"].as_str().unwrap().to_owned(),
                k["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        states.contains(&("RS512".into(), "retired".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&("ES256".into(), "current".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&("ES256".into(), "next".into())),
        "{states:?}"
    );
    let rotated = ok(&latchkey(
        d,
        &["--config", "latchkey.toml", "token", "mint", "alice"],
    ));
    assert_eq!(
        jsonwebtoken::decode_header(rotated.trim()).unwrap().alg,
        jsonwebtoken::Algorithm::ES256
    );
    verify(rotated.trim());
    verify(minted);
    let bad_alg = latchkey(d, &["keys", "rotate", "--alg", "HS256"]);
    assert_eq!(
        bad_alg.status.code(),
        Some(2),
        "an unknown algorithm is bad usage"
    );
    assert!(
        String::from_utf8_lossy(&bad_alg.stderr).contains("RS512"),
        "it names the allowed values"
    );

    // Clean shutdown on SIGTERM.
    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    let status = server.0.wait().unwrap();
    assert!(status.success(), "serve exits 0 on SIGTERM: {status:?}");
    let mut log = String::new();
    std::io::Read::read_to_string(server.0.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(
        log.contains("latchkey is serving") && log.contains(&addr),
        "{log}"
    );
}

/// `latchkey migrate` says what it applied, and that a migrated database needs nothing.
#[test]
fn migrate_reports_what_it_applied() {
    let dir = tempfile::tempdir().unwrap();
    let first = ok(&latchkey(dir.path(), &["migrate"]));
    assert!(first.contains("applied 0001 init"), "{first}");
    assert!(first.contains("applied 0004 successor sweep"), "{first}");
    let again = ok(&latchkey(dir.path(), &["migrate"]));
    assert!(again.starts_with("nothing to apply\n"), "{again}");
    assert!(!again.contains("applied"), "{again}");
}

/// An Open edX account beyond ASCII, made with the CLI, signs in over HTTP by username and by
/// email and keeps its name in the JWT.
#[test]
fn unicode_accounts_made_by_the_cli_sign_in_on_sqlite() {
    unicode_accounts_made_by_the_cli_sign_in(None);
}

#[test]
fn unicode_accounts_made_by_the_cli_sign_in_on_postgres() {
    let url = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(latchkey_testkit::fresh_postgres_database());
    unicode_accounts_made_by_the_cli_sign_in(Some(&url));
}

fn unicode_accounts_made_by_the_cli_sign_in(database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db: Vec<&str> = database_url
        .map(|url| vec!["--database-url", url])
        .unwrap_or_default();
    let run = |args: &[&str], stdin: &str| latchkey_with_stdin(d, &[&db[..], args].concat(), stdin);
    let user = |username: &str, email: &str| {
        run(
            &[
                "user",
                "create",
                "--username",
                username,
                "--email",
                email,
                "--password-stdin",
                "--json",
            ],
            "unicode-password\n",
        )
    };
    assert_eq!(json(&user("李雷", "Li.Lei@Example.cn"))["username"], "李雷");
    // Stored as Django's creation stores it: NFKC, so typed decomposed it is stored composed,
    // and the operator is told.
    let jose = user("Jose\u{301}.Admin", "josé@example.org");
    assert_eq!(json(&jose)["username"], "José.Admin");
    assert!(
        String::from_utf8_lossy(&jose.stderr).contains("is stored as \"José.Admin\""),
        "{jose:?}"
    );
    fails_with(&user("हिन्दी", "hindi@example.in"), "username must be");
    fails_with(&user("lilei", "LI.LEI@EXAMPLE.CN"), "email already exists");
    fails_with(&user("other", "JOSÉ@example.org"), "email already exists");
    let mobile = json(&run(
        &[
            "client",
            "create",
            "mobile",
            "李雷",
            "--grant-type",
            "password",
            "--public",
            "--json",
        ],
        "",
    ));
    let mobile = mobile["client_id"].as_str().unwrap();

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let _server = Serving(
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args([&db[..], &["serve", "--listen", &addr]].concat())
            .current_dir(d)
            .env_remove("LATCHKEY_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://{addr}");
    let http = reqwest::blocking::Client::new();
    until_ready(&http, &base);
    for (login, username) in [
        ("李雷", "李雷"),
        ("li.lei@example.cn", "李雷"),
        ("José.Admin", "José.Admin"),
        ("JOSÉ@EXAMPLE.ORG", "José.Admin"),
    ] {
        let r = http
            .post(format!("{base}/oauth2/access_token"))
            .form(&[
                ("grant_type", "password"),
                ("username", login),
                ("password", "unicode-password"),
                ("client_id", mobile),
                ("token_type", "jwt"),
            ])
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{login:?}");
        let body: Value = r.json().unwrap();
        let jwt = body["access_token"].as_str().unwrap();
        // The signature is the serve test's subject; here only the claims are.
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::decode_header(jwt).unwrap().alg);
        v.insecure_disable_signature_validation();
        v.validate_aud = false;
        let claims =
            jsonwebtoken::decode::<Value>(jwt, &jsonwebtoken::DecodingKey::from_secret(&[]), &v)
                .unwrap()
                .claims;
        assert_eq!(claims["preferred_username"], username, "{login:?}");
    }
}

#[test]
fn a_revoked_key_leaves_the_jwks_of_a_running_server() {
    let dir = setup();
    let d = dir.path();
    let help = ok(&latchkey(d, &["keys", "revoke", "--help"]));
    assert!(help.contains("stop verifying"), "{help}");
    let kid_in = |state: &str| -> String {
        let keys: Value = json(&latchkey(d, &["keys", "list", "--json"]));
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["state"] == state)
            .unwrap_or_else(|| panic!("no {state} key in {keys}"))["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let leaked = kid_in("current");
    fails_with(
        &latchkey(d, &["keys", "revoke", &leaked]),
        &format!("{leaked} is the current signing key: rotate first (`latchkey keys rotate --now`"),
    );
    fails_with(
        &latchkey(d, &["keys", "revoke", "no-such-kid"]),
        "no signing key no-such-kid",
    );

    let addr = free_addr();
    let _server = serve(d, &addr, &[]);
    let jwks_kids = || -> Vec<String> {
        let jwks: Value = reqwest::blocking::get(format!("http://{addr}/oauth2/jwks.json"))
            .unwrap()
            .json()
            .unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(jwks_kids().contains(&leaked));
    assert!(ok(&latchkey(d, &["keys", "rotate", "--now"])).contains("now signing with"));
    let said = ok(&latchkey(d, &["keys", "revoke", &leaked]));
    assert!(
        said.contains(&format!("revoked {leaked}"))
            && said.contains("tokens signed with it no longer verify"),
        "{said}"
    );
    assert_eq!(kid_in("revoked"), leaked);
    assert!(ok(&latchkey(d, &["keys", "revoke", &leaked])).contains("already revoked"));
    let started = Instant::now();
    while jwks_kids().contains(&leaked) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the running server still publishes the revoked key"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(jwks_kids().contains(&kid_in("current")));
}
