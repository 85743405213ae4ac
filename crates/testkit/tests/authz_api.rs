//! End-to-end tests of the authorization API (`/authz/v1/...`) over real HTTP, on SQLite and on
//! PostgreSQL, with openedx-authz's default policy loaded on first start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::admin::UserSpec;
use latchkey_core::secret::Secret;
use latchkey_core::store::Store;
use latchkey_server::clock::now;
use latchkey_testkit::TestServer;
use serde_json::{json, Value};

const VIEW: &str = "act^content_libraries.view_library";
const EDIT: &str = "act^content_libraries.edit_library_content";
const DELETE: &str = "act^content_libraries.delete_library";
const PHYSICS: &str = "lib^lib:MITx:physics";
const CHEMISTRY: &str = "lib^lib:MITx:chemistry";

/// A confidential client's view of the API.
struct Api {
    base: String,
    id: String,
    secret: String,
}

impl Api {
    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let r = request
            .basic_auth(&self.id, Some(&self.secret))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn check_body(&self, body: Value) -> (u16, Value) {
        self.send(
            reqwest::Client::new()
                .post(self.url("/authz/v1/check"))
                .json(&body),
        )
        .await
    }

    async fn allowed(&self, subject: &str, action: &str, scope: &str) -> bool {
        let (status, body) = self
            .check_body(json!({"subject": subject, "action": action, "scope": scope}))
            .await;
        assert_eq!(status, 200, "{body}");
        body["allowed"].as_bool().unwrap()
    }

    async fn assign(&self, subject: &str, role: &str, scope: &str) -> (u16, Value) {
        let body = json!({"subject": subject, "role": role, "scope": scope});
        self.send(
            reqwest::Client::new()
                .post(self.url("/authz/v1/assignments"))
                .json(&body),
        )
        .await
    }

    async fn unassign(&self, subject: &str, role: &str, scope: &str) -> (u16, Value) {
        self.send(
            reqwest::Client::new()
                .delete(self.url("/authz/v1/assignments"))
                .query(&[("subject", subject), ("role", role), ("scope", scope)]),
        )
        .await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        self.send(reqwest::Client::new().get(self.url(path)).query(query))
            .await
    }
}

/// `reader`: a confidential client of an ordinary user, granted `authz:read`. `admin`: one owned by
/// a superuser, granted `authz:write` only.
async fn clients(server: &TestServer<impl Store>) -> (Api, Api) {
    server.user("alice", "alice-pw").await;
    server
        .user_with(UserSpec {
            username: "root".into(),
            email: "root@example.org".into(),
            password: Some(Secret::new("root-pw")),
            superuser: true,
            ..UserSpec::default()
        })
        .await;
    let api = |(id, secret): (String, String)| Api {
        base: server.base.clone(),
        id,
        secret,
    };
    let reader = api(server
        .confidential_with("lms", "alice", "client-credentials", &["authz:read"])
        .await);
    let admin = api(server
        .confidential_with("roles", "root", "client-credentials", &["authz:write"])
        .await);
    server.authz_settled().await;
    (reader, admin)
}

async fn assignments_change_checks_at_once(server: TestServer<impl Store>) {
    let (reader, admin) = clients(&server).await;
    assert!(!reader.allowed("user^alice", VIEW, PHYSICS).await);

    let (status, body) = admin
        .assign("user^alice", "role^library_author", PHYSICS)
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["changed"], true);
    let (status, body) = admin
        .assign("user^alice", "role^library_author", PHYSICS)
        .await;
    assert_eq!((status, &body["changed"]), (200, &json!(false)), "{body}");

    // The default policy's roles and action implications hold at once.
    assert!(reader.allowed("user^alice", VIEW, PHYSICS).await);
    assert!(reader.allowed("user^alice", EDIT, PHYSICS).await);
    assert!(!reader.allowed("user^alice", DELETE, PHYSICS).await);
    assert!(!reader.allowed("user^alice", VIEW, CHEMISTRY).await);

    let (status, body) = reader
        .check_body(json!({"checks": [
            {"subject": "user^alice", "action": VIEW, "scope": PHYSICS},
            {"subject": "user^alice", "action": VIEW, "scope": CHEMISTRY},
            {"subject": "user^alice", "action": DELETE, "scope": PHYSICS},
        ]}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "results": [{"allowed": true}, {"allowed": false}, {"allowed": false}],
            "version": server.authz.version(),
        })
    );

    let (status, body) = reader
        .get(
            "/authz/v1/scopes",
            &[("subject", "user^alice"), ("action", VIEW)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"scopes": [PHYSICS], "staff": false}));

    let (status, body) = reader
        .get("/authz/v1/assignments", &[("subject", "user^alice")])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"assignments": [
            {"subject": "user^alice", "role": "role^library_author", "scope": PHYSICS}
        ]})
    );

    let (status, body) = admin
        .unassign("user^alice", "role^library_author", PHYSICS)
        .await;
    assert_eq!((status, &body["changed"]), (200, &json!(true)), "{body}");
    assert!(
        !reader.allowed("user^alice", VIEW, PHYSICS).await,
        "denied as soon as unassigned"
    );
    let (status, body) = admin
        .unassign("user^alice", "role^library_author", PHYSICS)
        .await;
    assert_eq!((status, &body["changed"]), (200, &json!(false)), "{body}");

    // Every change is in the audit trail, with the client that made it.
    let events = server.store.audit_events(10).await.unwrap();
    let mine: Vec<_> = events
        .iter()
        .filter(|e| e.actor == format!("client:{}", admin.id))
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(mine, ["authz.rule.remove", "authz.rule.add"]);
}

async fn bad_input_is_invalid_request(server: TestServer<impl Store>) {
    let (reader, admin) = clients(&server).await;
    let written = server.authz.version();
    let invalid = |status: u16, body: &Value| {
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_request", "{body}");
        assert!(body["error_description"].is_string(), "{body}");
    };
    for bad in [
        json!({"subject": "alice", "action": VIEW, "scope": PHYSICS}),
        json!({"subject": "user^alice", "action": VIEW, "scope": "*"}),
        json!({"subject": "user^alice", "action": VIEW, "scope": "lib^"}),
        json!({"subject": "user^alice", "action": VIEW}),
        json!({"checks": "no"}),
        json!([1, 2]),
    ] {
        let (status, body) = reader.check_body(bad).await;
        invalid(status, &body);
    }
    let (status, body) = reader
        .check_body(json!({"checks": [
            {"subject": "user^alice", "action": VIEW, "scope": PHYSICS},
            {"subject": "alice", "action": VIEW, "scope": PHYSICS},
        ]}))
        .await;
    invalid(status, &body);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("checks[1]:"),
        "{body}"
    );
    let (status, body) = reader
        .send(
            reqwest::Client::new()
                .post(reader.url("/authz/v1/check"))
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    invalid(status, &body);
    let (status, body) = reader
        .get(
            "/authz/v1/scopes",
            &[("subject", "alice"), ("action", VIEW)],
        )
        .await;
    invalid(status, &body);
    for (s, r, d) in [
        ("alice", "role^library_user", PHYSICS),
        ("user^alice", "library_user", PHYSICS),
        ("user^alice, user^bob", "role^library_user", PHYSICS),
    ] {
        let (status, body) = admin.assign(s, r, d).await;
        invalid(status, &body);
    }
    assert_eq!(server.authz.version(), written, "nothing was written");
}

async fn callers_must_authenticate_and_hold_the_permission(server: TestServer<impl Store>) {
    let (reader, admin) = clients(&server).await;
    let written = server.authz.version();
    let check = json!({"subject": "user^alice", "action": VIEW, "scope": PHYSICS});
    let r = reqwest::Client::new()
        .post(server.url("/authz/v1/check"))
        .json(&check)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let wrong = Api {
        base: server.base.clone(),
        id: reader.id.clone(),
        secret: "wrong".into(),
    };
    let (status, body) = wrong.check_body(check.clone()).await;
    assert_eq!((status, &body["error"]), (401, &json!("invalid_client")));
    let public = server.public("app", "alice", "password").await;
    let r = reqwest::Client::new()
        .post(server.url("/authz/v1/check"))
        .basic_auth(&public, None::<&str>)
        .json(&check)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "a public client may not ask");
    assert!(r.headers().contains_key("www-authenticate"));

    // Authenticated but not permitted: 403, unauthorized_client, naming the permission.
    let refused = |status: u16, body: &Value, permission: &str| {
        assert_eq!(
            (status, &body["error"]),
            (403, &json!("unauthorized_client")),
            "{body}"
        );
        assert_eq!(
            body["error_description"],
            format!("the client lacks the {permission} permission")
        );
    };
    let api = |(id, secret): (String, String)| Api {
        base: server.base.clone(),
        id,
        secret,
    };
    let plain = api(server
        .confidential("plain", "alice", "client-credentials")
        .await);
    for caller in [&plain, &admin] {
        let (status, body) = caller.check_body(check.clone()).await;
        refused(status, &body, "authz:read");
        for (path, query) in [
            ("/authz/v1/changes", vec![("after", "0"), ("wait", "1")]),
            (
                "/authz/v1/scopes",
                vec![("subject", "user^alice"), ("action", VIEW)],
            ),
            ("/authz/v1/assignments", vec![]),
        ] {
            let (status, body) = caller.get(path, &query).await;
            refused(status, &body, "authz:read");
        }
    }
    // Reading does not imply writing, and neither does a staff or superuser owner.
    let superusers = api(server
        .confidential_with("root-reader", "root", "client-credentials", &["authz:read"])
        .await);
    for caller in [&plain, &reader, &superusers] {
        let (status, body) = caller.assign("user^alice", "role^library_admin", "*").await;
        refused(status, &body, "authz:write");
        let (status, body) = caller
            .unassign("user^alice", "role^library_admin", "*")
            .await;
        refused(status, &body, "authz:write");
    }
    assert_eq!(server.authz.version(), written, "nothing was written");

    // authz:write is the capability: a client of an ordinary user that holds it may write.
    let writer = api(server
        .confidential_with(
            "alice-roles",
            "alice",
            "client-credentials",
            &["authz:write"],
        )
        .await);
    let (status, body) = writer
        .assign("user^alice", "role^library_user", PHYSICS)
        .await;
    assert_eq!(status, 201, "{body}");
}

async fn staff_are_allowed_in_libraries_and_courses(server: TestServer<impl Store>) {
    let (reader, _admin) = clients(&server).await;
    server
        .user_with(UserSpec {
            username: "staffer".into(),
            email: "staffer@example.org".into(),
            staff: true,
            ..UserSpec::default()
        })
        .await;
    // A new staff account moves the authz version; the node hears it and reloads.
    server.authz_settled().await;
    assert!(reader.allowed("user^staffer", DELETE, PHYSICS).await);
    assert!(
        reader
            .allowed(
                "user^staffer@example.org",
                "act^anything",
                "course-v1^course-v1:MITx+8.01+2025"
            )
            .await
    );
    assert!(
        !reader.allowed("user^staffer", VIEW, "org^MITx").await,
        "the bypass is for libraries and courses only"
    );
    assert!(!reader.allowed("user^alice", DELETE, PHYSICS).await);
    let (_, body) = reader
        .get(
            "/authz/v1/scopes",
            &[("subject", "user^staffer"), ("action", VIEW)],
        )
        .await;
    assert_eq!(body, json!({"scopes": [], "staff": true}));
}

/// Open edX accounts beyond ASCII: openedx-authz looks staff up by username or email exactly as
/// stored, and subjects name users by username, unchanged.
async fn unicode_users_are_subjects_and_staff(server: TestServer<impl Store>) {
    let (reader, admin) = clients(&server).await;
    server
        .user_with(UserSpec {
            username: "José.Admin".into(),
            email: "José.Admin@Example.org".into(),
            staff: true,
            ..UserSpec::default()
        })
        .await;
    server.user("李雷", "li-pw").await;
    server.authz.reload_if_changed(now()).await.unwrap();
    for staff in ["user^José.Admin", "user^José.Admin@Example.org"] {
        assert!(reader.allowed(staff, DELETE, PHYSICS).await, "{staff}");
    }
    // Usernames are case-sensitive: this names nobody.
    assert!(!reader.allowed("user^josé.admin", DELETE, PHYSICS).await);
    let (_, body) = reader
        .get(
            "/authz/v1/scopes",
            &[("subject", "user^José.Admin"), ("action", VIEW)],
        )
        .await;
    assert_eq!(body, json!({"scopes": [], "staff": true}));

    assert!(!reader.allowed("user^李雷", VIEW, PHYSICS).await);
    let (status, body) = admin
        .assign("user^李雷", "role^library_user", PHYSICS)
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(reader.allowed("user^李雷", VIEW, PHYSICS).await);
    assert!(!reader.allowed("user^李雷", DELETE, PHYSICS).await);
}

#[tokio::test]
async fn sqlite_assignments_change_checks_at_once() {
    assignments_change_checks_at_once(TestServer::sqlite().await).await;
}

#[tokio::test]
async fn postgres_assignments_change_checks_at_once() {
    assignments_change_checks_at_once(TestServer::postgres().await).await;
}

#[tokio::test]
async fn sqlite_bad_input_is_invalid_request() {
    bad_input_is_invalid_request(TestServer::sqlite().await).await;
}

#[tokio::test]
async fn postgres_bad_input_is_invalid_request() {
    bad_input_is_invalid_request(TestServer::postgres().await).await;
}

#[tokio::test]
async fn sqlite_callers_must_authenticate_and_hold_the_permission() {
    callers_must_authenticate_and_hold_the_permission(TestServer::sqlite().await).await;
}

#[tokio::test]
async fn postgres_callers_must_authenticate_and_hold_the_permission() {
    callers_must_authenticate_and_hold_the_permission(TestServer::postgres().await).await;
}

#[tokio::test]
async fn sqlite_staff_are_allowed_in_libraries_and_courses() {
    staff_are_allowed_in_libraries_and_courses(TestServer::sqlite().await).await;
}

#[tokio::test]
async fn postgres_staff_are_allowed_in_libraries_and_courses() {
    staff_are_allowed_in_libraries_and_courses(TestServer::postgres().await).await;
}

#[tokio::test]
async fn sqlite_unicode_users_are_subjects_and_staff() {
    unicode_users_are_subjects_and_staff(TestServer::sqlite().await).await;
}

#[tokio::test]
async fn postgres_unicode_users_are_subjects_and_staff() {
    unicode_users_are_subjects_and_staff(TestServer::postgres().await).await;
}

/// Two nodes on one PostgreSQL database: a change made through one reaches the other by its change
/// notice, without a reload by the janitor.
#[tokio::test]
async fn postgres_changes_reach_another_node_by_notice() {
    let first = TestServer::postgres().await;
    let second = first.another_node().await;
    let (reader, admin) = clients(&first).await;
    second.authz_settled().await;
    let reader_on_second = Api {
        base: second.base.clone(),
        id: reader.id.clone(),
        secret: reader.secret.clone(),
    };
    assert_eq!(first.authz.version(), second.authz.version());

    let (status, _) = admin.assign("user^alice", "role^library_user", "*").await;
    assert_eq!(status, 201);
    assert!(reader.allowed("user^alice", VIEW, CHEMISTRY).await);
    second.authz_settled().await;
    assert!(
        reader_on_second
            .allowed("user^alice", VIEW, CHEMISTRY)
            .await
    );
    assert_eq!(first.authz.version(), second.authz.version());

    admin.unassign("user^alice", "role^library_user", "*").await;
    assert!(!reader.allowed("user^alice", VIEW, CHEMISTRY).await);
    second.authz_settled().await;
    assert!(
        !reader_on_second
            .allowed("user^alice", VIEW, CHEMISTRY)
            .await
    );
    assert!(
        !second.authz.reload_if_changed(now()).await.unwrap(),
        "nothing left for a reload"
    );
}
