//! The rows of an Open edX export this importer reads, typed: field names as edx-platform's,
//! django-oauth-toolkit's and Django's models spell them. A row that does not parse is
//! malformed, with the reason serde gives.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::datetime::unix_seconds;
use crate::dumpdata::Row;

/// A row of a model this importer reads.
#[derive(Debug)]
pub enum Known {
    User(i64, UserRow),
    Profile(ProfileRow),
    AnonymousId(i64, AnonymousIdRow),
    Application(i64, ApplicationRow),
    AccessToken(i64, AccessTokenRow),
    RefreshToken(i64, RefreshTokenRow),
    ApplicationAccess(ApplicationAccessRow),
    Restricted(RestrictedRow),
}

/// What a row is, or why it cannot be read.
#[derive(Debug)]
pub enum Parsed {
    Known(Known),
    /// A model this importer does not read: counted, not an error.
    Other(String),
    Malformed {
        model: String,
        problem: String,
    },
}

pub fn parse(row: &Row) -> Parsed {
    let Some(model) = row.model.as_deref() else {
        return Parsed::Malformed {
            model: String::new(),
            problem: "not a {\"model\", \"pk\", \"fields\"} object".into(),
        };
    };
    let known = match model {
        "auth.user" => with_pk(row).and_then(|pk| Ok(Known::User(pk, fields(row)?))),
        "student.userprofile" => fields(row).map(Known::Profile),
        "student.anonymoususerid" => {
            with_pk(row).and_then(|pk| Ok(Known::AnonymousId(pk, fields(row)?)))
        }
        "oauth2_provider.application" => {
            with_pk(row).and_then(|pk| Ok(Known::Application(pk, fields(row)?)))
        }
        "oauth2_provider.accesstoken" => {
            with_pk(row).and_then(|pk| Ok(Known::AccessToken(pk, fields(row)?)))
        }
        "oauth2_provider.refreshtoken" => {
            with_pk(row).and_then(|pk| Ok(Known::RefreshToken(pk, fields(row)?)))
        }
        "oauth_dispatch.applicationaccess" => fields(row).map(Known::ApplicationAccess),
        "oauth_dispatch.restrictedapplication" => fields(row).map(Known::Restricted),
        other => return Parsed::Other(other.to_owned()),
    };
    match known.and_then(check) {
        Ok(k) => Parsed::Known(k),
        Err(problem) => Parsed::Malformed {
            model: model.to_owned(),
            problem,
        },
    }
}

fn with_pk(row: &Row) -> Result<i64, String> {
    row.pk
        .as_i64()
        .ok_or_else(|| format!("pk {} is not an integer", row.pk))
}

fn fields<T: DeserializeOwned>(row: &Row) -> Result<T, String> {
    let raw = row.fields.as_ref().ok_or("fields missing")?;
    serde_json::from_str(raw.get()).map_err(|e| e.to_string())
}

/// What serde cannot say: datetimes in Django's form.
fn check(k: Known) -> Result<Known, String> {
    let times: &[&str] = match &k {
        Known::User(_, u) => &[u.date_joined.as_str()],
        Known::Application(_, a) => &[a.created.as_str()],
        Known::AccessToken(_, t) => &[t.expires.as_str(), t.created.as_str()],
        Known::RefreshToken(_, t) => &[t.created.as_str()],
        _ => &[],
    };
    match times.iter().find(|t| unix_seconds(t).is_none()) {
        Some(bad) => Err(format!("{bad:?} is not a datetime")),
        None => Ok(k),
    }
}

/// `auth.user`.
#[derive(Debug, Deserialize)]
pub struct UserRow {
    pub password: String,
    pub username: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    pub email: String,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub is_active: bool,
    pub date_joined: String,
}

/// `student.userprofile`.
#[derive(Debug, Deserialize)]
pub struct ProfileRow {
    pub user: i64,
    #[serde(default)]
    pub name: String,
}

/// `student.anonymoususerid`.
#[derive(Debug, Deserialize)]
pub struct AnonymousIdRow {
    pub user: i64,
    pub anonymous_user_id: String,
    /// Empty for the course-less id that becomes `sub`.
    #[serde(default)]
    pub course_id: Option<String>,
}

/// `oauth2_provider.application`.
#[derive(Debug, Deserialize)]
pub struct ApplicationRow {
    pub client_id: String,
    pub user: Option<i64>,
    #[serde(default)]
    pub redirect_uris: String,
    pub client_type: String,
    pub authorization_grant_type: String,
    #[serde(default)]
    pub client_secret: String,
    pub name: String,
    #[serde(default)]
    pub skip_authorization: bool,
    pub created: String,
    /// django-oauth-toolkit 2+: the secret is stored as a Django password hash.
    #[serde(default)]
    pub hash_client_secret: bool,
}

/// `oauth2_provider.accesstoken`.
#[derive(Debug, Deserialize)]
pub struct AccessTokenRow {
    pub user: Option<i64>,
    pub token: String,
    pub application: Option<i64>,
    pub expires: String,
    #[serde(default)]
    pub scope: String,
    pub created: String,
}

/// `oauth2_provider.refreshtoken`.
#[derive(Debug, Deserialize)]
pub struct RefreshTokenRow {
    pub user: i64,
    pub token: String,
    pub application: i64,
    pub access_token: Option<i64>,
    pub created: String,
    pub revoked: Option<String>,
}

/// `oauth_dispatch.applicationaccess`: django-mysql's `ListCharField`s, comma-joined.
#[derive(Debug, Deserialize)]
pub struct ApplicationAccessRow {
    pub application: i64,
    #[serde(default)]
    pub scopes: String,
    #[serde(default)]
    pub filters: String,
}

/// `oauth_dispatch.restrictedapplication`.
#[derive(Debug, Deserialize)]
pub struct RestrictedRow {
    pub application: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(text: &str) -> Row {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn known_rows_parse_and_others_are_counted() {
        let user = row(
            r#"{"model": "auth.user", "pk": 5, "fields": {"password": "!x", "username": "a",
                "first_name": "", "last_name": "", "email": "a@x.org", "is_staff": false,
                "is_superuser": false, "is_active": true, "date_joined": "2020-01-01T00:00:00Z",
                "groups": [], "user_permissions": []}}"#,
        );
        assert!(matches!(parse(&user), Parsed::Known(Known::User(5, _))));
        let other = row(r#"{"model": "student.courseenrollment", "pk": 1, "fields": {}}"#);
        assert!(matches!(parse(&other), Parsed::Other(m) if m == "student.courseenrollment"));
    }

    #[test]
    fn malformed_rows_say_why() {
        for (text, why) in [
            (
                r#"{"model": "auth.user", "pk": "x", "fields": {}}"#,
                "pk \"x\" is not an integer",
            ),
            (
                r#"{"model": "oauth2_provider.refreshtoken", "pk": 1}"#,
                "fields missing",
            ),
            (
                r#"{"model": "student.anonymoususerid", "pk": 1, "fields": {"user": 1,
                    "anonymous_user_id": 42, "course_id": ""}}"#,
                "invalid type: integer `42`, expected a string",
            ),
            (
                r#"{"model": "oauth2_provider.refreshtoken", "pk": 1, "fields": {"user": 1,
                    "token": "t", "application": 1, "access_token": null,
                    "created": "yesterday", "revoked": null}}"#,
                "\"yesterday\" is not a datetime",
            ),
        ] {
            match parse(&row(text)) {
                Parsed::Malformed { problem, .. } => assert!(problem.contains(why), "{problem}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
