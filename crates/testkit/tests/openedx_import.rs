//! `latchkey-import` against the real stores, then the real server: what a re-import writes and
//! keeps, who gets which id, what stops an import before it writes, and what a dry run leaves.
//! (The generated export and the CLI are driven end to end by tests/interop/test_openedx_import.py.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use latchkey_core::admin::UserSpec;
use latchkey_core::client::{ClientKind, StoredSecret};
use latchkey_core::scope::ScopeRegistry;
use latchkey_core::store::Store;
use latchkey_core::user::UserId;
use latchkey_import::{ImportError, OpenEdxImport, Progress, Settings, Summary};
use latchkey_server::clock::now;
use latchkey_testkit::{on_both_backends, TestServer};
use serde_json::{json, Value};

/// Django 4.2's own hashes (crates/core/tests/fixtures/django_password_hashes.json).
const EDX_HASH: &str =
    "pbkdf2_sha256$1$M1eWrP3uIZ35wyVpbDO0td$Y71UUpYGViKHXBWJEE3cTNMF4z6BCBz7Qzh0BjoF81Y=";
const HORSE_HASH: &str =
    "pbkdf2_sha256$2$DFPu2OOjUz597TYG1TRtzn$zbweEl1U5Kx95AXB4zMaSdEUQJfXapRvBRV9iwHodXk=";
const ADA_SUB: &str = "0123456789abcdef0123456789abcdef";
const PARTNER_ID: &str = "partnerPartnerPartnerPartner0123456789ab";
const PARTNER_SECRET: &str = "partner-secret-of-the-lms-0123456789";
const REFRESH: &str = "lmsRefreshTokenLmsRefreshToken";

struct Quiet;
impl Progress for Quiet {
    fn pass(&mut self, _: &'static str, _: u64) {}
    fn advance(&mut self, _: u64) {}
    fn done(&mut self) {}
}

fn stamp(unix: i64) -> String {
    // Whole days are enough here: 1970-01-01 plus days, in Django's encoding.
    let days = unix / 86_400;
    let (y, m, d) = civil(days);
    format!("{y:04}-{m:02}-{d:02}T00:00:00.000Z")
}

fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A small LMS: ada (id 10, a profile, two anonymous ids), bob (id 11, inactive, staff), a
/// confidential password application of ada's with a live refresh token.
fn export(ada_email: &str, ada_hash: &str, bob_staff: bool) -> Vec<Value> {
    let created = stamp(now() - 2 * 86_400);
    vec![
        json!({"model": "auth.user", "pk": 10, "fields": {"password": ada_hash, "username": "ada",
            "first_name": "Ada", "last_name": "Lovelace", "email": ada_email, "is_staff": false,
            "is_superuser": false, "is_active": true, "date_joined": "2020-01-01T00:00:00Z"}}),
        json!({"model": "auth.user", "pk": 11, "fields": {"password": "!unusable", "username": "bob",
            "first_name": "", "last_name": "", "email": "bob@example.org", "is_staff": bob_staff,
            "is_superuser": false, "is_active": false, "date_joined": "2021-01-01T00:00:00Z"}}),
        json!({"model": "student.userprofile", "pk": 1, "fields": {"user": 10, "name": "Ada King"}}),
        json!({"model": "student.anonymoususerid", "pk": 1, "fields": {"user": 10,
            "anonymous_user_id": "ffffffffffffffffffffffffffffffff", "course_id": "course-v1:x+y+z"}}),
        json!({"model": "student.anonymoususerid", "pk": 2, "fields": {"user": 10,
            "anonymous_user_id": ADA_SUB, "course_id": ""}}),
        json!({"model": "oauth2_provider.application", "pk": 1, "fields": {"client_id": PARTNER_ID,
            "user": 10, "redirect_uris": "", "client_type": "confidential",
            "authorization_grant_type": "password", "client_secret": PARTNER_SECRET,
            "name": "partner", "skip_authorization": false, "created": "2022-01-01T00:00:00Z"}}),
        json!({"model": "oauth2_provider.refreshtoken", "pk": 1, "fields": {"user": 10,
            "token": REFRESH, "application": 1, "access_token": null, "created": created,
            "revoked": null}}),
    ]
}

fn write(rows: &[Value]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.json");
    std::fs::write(&path, serde_json::to_vec(rows).unwrap()).unwrap();
    (dir, path)
}

async fn import<S: Store>(
    server: &TestServer<S>,
    rows: &[Value],
    strict: bool,
    dry_run: bool,
) -> Result<Summary, ImportError> {
    let (_dir, path) = write(rows);
    let settings = Settings {
        now: now(),
        refresh_lifetime: 30 * 86_400,
        family_lifetime: None,
        strict,
        dry_run,
    };
    OpenEdxImport::new(
        server.store.clone(),
        server.hasher(),
        ScopeRegistry::default(),
        settings,
    )
    .run(&path, &mut Quiet)
    .await
}

/// The LMS of [`export`] as it first is.
fn lms() -> Vec<Value> {
    export("ada@example.org", EDX_HASH, false)
}

/// Imports [`lms`] with the default settings; it must succeed.
async fn import_lms<S: Store>(server: &TestServer<S>) -> Summary {
    import(server, &lms(), false, false).await.unwrap()
}

async fn token<S: Store>(server: &TestServer<S>, form: &[(&str, &str)]) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(server.url("/oauth2/access_token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn sign_in<S: Store>(server: &TestServer<S>, password: &str) -> (u16, Value) {
    token(
        server,
        &[
            ("grant_type", "password"),
            ("username", "ada"),
            ("password", password),
            ("client_id", PARTNER_ID),
            ("client_secret", PARTNER_SECRET),
            ("token_type", "jwt"),
        ],
    )
    .await
}

fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn imported_users_keep_their_ids_subs_and_django_passwords(server: TestServer<impl Store>) {
    let summary = import_lms(&server).await;
    assert_eq!((summary.users.imported, summary.clients.imported), (2, 1));
    assert_eq!(summary.refresh_tokens.imported, 1);

    let (status, body) = sign_in(&server, "edx").await;
    assert_eq!(status, 200, "{body}");
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(
        (c["user_id"].as_i64(), c["sub"].as_str()),
        (Some(10), Some(ADA_SUB))
    );
    let ada = server.store.user_by_id(UserId(10)).await.unwrap().unwrap();
    assert_eq!(
        (ada.name.as_str(), ada.given_name.as_str()),
        ("Ada King", "Ada")
    );
    let bob = server.store.user_by_id(UserId(11)).await.unwrap().unwrap();
    assert!(
        !bob.email_verified && !bob.disabled,
        "inactive imports as unverified"
    );
    assert_eq!(bob.sub.len(), 32, "a user without an anonymous id gets one");

    // The imported refresh token rotates, once.
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", REFRESH),
        ("client_id", PARTNER_ID),
        ("client_secret", PARTNER_SECRET),
    ];
    let (status, body) = token(&server, &refresh).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["refresh_token"], REFRESH);
}

async fn a_reimport_writes_what_changed_upstream_and_keeps_what_changed_here(
    server: TestServer<impl Store>,
) {
    import_lms(&server).await;
    // Signing in replaces the Django hash with argon2id: a change made here.
    assert_eq!(sign_in(&server, "edx").await.0, 200);
    let rehashed = server.store.user_by_id(UserId(10)).await.unwrap().unwrap();
    assert!(rehashed
        .password_hash
        .as_deref()
        .unwrap()
        .starts_with("$argon2id$"));
    let bob_sub = server
        .store
        .user_by_id(UserId(11))
        .await
        .unwrap()
        .unwrap()
        .sub;

    let again = import_lms(&server).await;
    assert_eq!(
        (
            again.users.imported,
            again.users.updated,
            again.users.unchanged
        ),
        (0, 0, 2)
    );
    assert_eq!(
        (again.clients.unchanged, again.refresh_tokens.unchanged),
        (1, 1)
    );

    // Upstream changes ada's email: only the email is written, the argon2id hash stays.
    let moved = import(
        &server,
        &export("ada@lms.example.org", EDX_HASH, false),
        false,
        false,
    )
    .await
    .unwrap();
    assert_eq!((moved.users.updated, moved.users.unchanged), (1, 1));
    let ada = server.store.user_by_id(UserId(10)).await.unwrap().unwrap();
    assert_eq!(ada.email, "ada@lms.example.org");
    assert_eq!(ada.password_hash, rehashed.password_hash);
    assert_eq!(sign_in(&server, "edx").await.0, 200);
    let bob = server.store.user_by_id(UserId(11)).await.unwrap().unwrap();
    assert_eq!(
        bob.sub, bob_sub,
        "a sub made here is made the same way again"
    );

    // Upstream changes her password too: now the LMS's hash wins.
    import(
        &server,
        &export("ada@lms.example.org", HORSE_HASH, false),
        false,
        false,
    )
    .await
    .unwrap();
    assert_eq!(sign_in(&server, "edx").await.0, 400);
    assert_eq!(
        sign_in(&server, "correct horse battery staple").await.0,
        200
    );
}

async fn staff_changes_move_the_authz_version(server: TestServer<impl Store>) {
    import_lms(&server).await;
    let before = server.store.authz_version().await.unwrap();
    assert!(before > 0, "the default policy is seeded at start");
    import(
        &server,
        &export("ada@example.org", EDX_HASH, true),
        false,
        false,
    )
    .await
    .unwrap();
    assert_eq!(server.store.authz_version().await.unwrap(), before + 1);
    assert!(server
        .store
        .staff_keys()
        .await
        .unwrap()
        .contains(&"bob".to_owned()));
}

async fn users_made_after_an_import_never_take_an_imported_id(server: TestServer<impl Store>) {
    import_lms(&server).await;
    let carol = server.user("carol", "carol-password").await;
    assert!(carol.id.0 > 11, "{:?}", carol.id);
}

async fn a_native_user_in_the_way_stops_the_import_before_it_writes(
    server: TestServer<impl Store>,
) {
    let native = server
        .user_with(UserSpec {
            username: "ada".into(),
            email: "someone@example.org".into(),
            ..UserSpec::default()
        })
        .await;
    let e = import(&server, &lms(), false, false).await.unwrap_err();
    let ImportError::Collisions(found) = &e else {
        panic!("{e}")
    };
    assert!(found.iter().any(|c| c.contains("\"ada\"")), "{found:?}");
    let users = server.store.list_users().await.unwrap();
    assert_eq!(
        users.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![native.id]
    );
    assert!(server.store.list_clients().await.unwrap().is_empty());
}

async fn a_dry_run_reports_and_keeps_nothing(server: TestServer<impl Store>) {
    let dry = import(&server, &lms(), false, true).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!((dry.users.imported, dry.clients.imported), (2, 1));
    assert!(server.store.list_users().await.unwrap().is_empty());
    assert!(server.store.list_clients().await.unwrap().is_empty());
    // And the real run afterwards is not confused by it.
    let real = import_lms(&server).await;
    assert_eq!(real.users.imported, 2);
}

async fn strict_stops_at_the_first_malformed_row_and_the_rest_skips_it(
    server: TestServer<impl Store>,
) {
    let mut rows = lms();
    rows.insert(
        3,
        json!({"model": "student.userprofile", "pk": 2, "fields": {"user": 999, "name": "x"}}),
    );
    let e = import(&server, &rows, true, false).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("malformed row 4 (student.userprofile): user 999 does not exist"),
        "{e}"
    );
    assert!(server.store.list_users().await.unwrap().is_empty());
    let lenient = import(&server, &rows, false, false).await.unwrap();
    assert_eq!(lenient.malformed.len(), 1);
    assert_eq!(lenient.malformed[0].position, 4);
    assert_eq!(lenient.users.imported, 2);
}

async fn stored_secret(store: &impl Store, id: &str) -> StoredSecret {
    match store.client_by_id(id).await.unwrap().unwrap().kind {
        ClientKind::Confidential { secret, .. } => secret,
        ClientKind::Public => panic!("{id} became public"),
    }
}

/// django-oauth-toolkit 2+ keeps secrets as Django hashes: the first good check pays Django's
/// cost and stores Latchkey's keyed hash instead; a re-import does not bring the old one back.
async fn a_django_hashed_client_secret_is_carried_over_on_first_use(
    server: TestServer<impl Store>,
) {
    const SERVICE_ID: &str = "serviceServiceServiceService0123456789ab";
    let mut rows = lms();
    rows.push(
        json!({"model": "oauth2_provider.application", "pk": 2, "fields": {
        "client_id": SERVICE_ID, "user": 10, "redirect_uris": "", "client_type": "confidential",
        "authorization_grant_type": "client-credentials", "client_secret": HORSE_HASH,
        "name": "service", "skip_authorization": false, "created": "2023-01-01T00:00:00Z",
        "hash_client_secret": true}}),
    );
    let summary = import(&server, &rows, false, false).await.unwrap();
    assert_eq!(summary.clients.imported, 2);
    assert_eq!(
        stored_secret(&*server.store, SERVICE_ID).await,
        StoredSecret::Django(HORSE_HASH.into())
    );
    let cc = |secret: &'static str| {
        [
            ("grant_type", "client_credentials"),
            ("client_id", SERVICE_ID),
            ("client_secret", secret),
        ]
    };
    let (status, body) = token(&server, &cc("correct horse battery stable")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(matches!(
        stored_secret(&*server.store, SERVICE_ID).await,
        StoredSecret::Django(_)
    ));

    for _ in 0..2 {
        let (status, body) = token(&server, &cc("correct horse battery staple")).await;
        assert_eq!(status, 200, "{body}");
    }
    let keyed = StoredSecret::Keyed(server.hasher().hash("correct horse battery staple"));
    assert_eq!(stored_secret(&*server.store, SERVICE_ID).await, keyed);
    let again = import(&server, &rows, false, false).await.unwrap();
    assert_eq!(again.clients.unchanged, 2);
    assert_eq!(stored_secret(&*server.store, SERVICE_ID).await, keyed);
}

on_both_backends!(
    a_django_hashed_client_secret_is_carried_over_on_first_use,
    imported_users_keep_their_ids_subs_and_django_passwords,
    a_reimport_writes_what_changed_upstream_and_keeps_what_changed_here,
    staff_changes_move_the_authz_version,
    users_made_after_an_import_never_take_an_imported_id,
    a_native_user_in_the_way_stops_the_import_before_it_writes,
    a_dry_run_reports_and_keeps_nothing,
    strict_stops_at_the_first_malformed_row_and_the_rest_skips_it,
);
