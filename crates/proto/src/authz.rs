//! The authorization API (`/authz/v1/...`): Open edX AuthZ checks, scopes and role assignments.

use serde::{Deserialize, Serialize};

/// One question: may `subject` do `action` in `scope`? Keys are namespaced with `^`:
/// `user^alice`, `act^content_libraries.view_library`, `lib^lib:MITx:physics`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Who asks, e.g. `user^alice`.
    pub subject: String,
    /// What they want to do, e.g. `act^content_libraries.view_library`.
    pub action: String,
    /// Where, e.g. `lib^lib:MITx:physics`.
    pub scope: String,
}

/// `POST /authz/v1/check` takes one check, or `{"checks": [...]}`.
///
/// Exhaustive on purpose: the server must answer every shape a client may send, so a new shape
/// has to break its `match`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CheckRequest {
    /// Many checks, answered with a [`CheckBatchResult`].
    Batch(CheckBatch),
    /// One check, answered with a [`CheckResult`].
    Single(Check),
}

/// `{"checks": [...]}`: several checks in one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBatch {
    /// The checks, answered in this order.
    pub checks: Vec<Check>,
}

/// The answer to one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Whether the subject may do the action in the scope.
    pub allowed: bool,
    /// The version of the rules the decision was made at (see [`Changes`]), so a caching client
    /// notices newer rules. Absent inside a batch (the batch carries it) and from servers older
    /// than the change feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// The answers to a batch, in order, all made at one version of the rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckBatchResult {
    /// One answer per check, in the order asked.
    pub results: Vec<CheckResult>,
    /// The version of the rules every answer was made at; absent from servers older than the
    /// change feed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// `GET /authz/v1/changes?after=N[&wait=SECONDS]`: the change feed, as a long poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// The version the caller holds; the answer comes as soon as the server's differs.
    pub after: i64,
    /// How long to wait for a change, in seconds (the server caps it).
    #[serde(default)]
    pub wait: Option<u64>,
}

/// The answer to a poll of the change feed: the version of the rules the answering node holds
/// now. Equal to `after` when nothing changed within the wait. Versions only grow; decisions
/// made at an older version may be stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// The rules' version.
    pub version: i64,
}

/// `GET /authz/v1/scopes?subject=..&action=..`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopesQuery {
    /// Who, e.g. `user^alice`.
    pub subject: String,
    /// The action, e.g. `act^content_libraries.view_library`.
    pub action: String,
}

/// The scopes where the subject holds the action through its roles (`*` for a global
/// assignment). `staff`: the subject is staff or superuser, so it also holds the action in every
/// `lib^` and `course-v1^` scope where no deny line applies to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopesResponse {
    /// The scopes (or patterns such as `lib^lib:MITx:*`) where the subject holds the action.
    pub scopes: Vec<String>,
    /// Whether the subject is staff or superuser.
    pub staff: bool,
}

/// A role assignment: `POST /authz/v1/assignments` body, `DELETE` query, `GET` list item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// Who holds the role, e.g. `user^alice`.
    pub subject: String,
    /// The role, e.g. `role^library_author`.
    pub role: String,
    /// Where the role holds, e.g. `lib^lib:MITx:physics`, or `*` everywhere.
    pub scope: String,
}

/// `GET /authz/v1/assignments?subject=..&role=..&scope=..` (each optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentQuery {
    /// Only this subject's assignments.
    pub subject: Option<String>,
    /// Only assignments of this role.
    pub role: Option<String>,
    /// Only assignments in this scope.
    pub scope: Option<String>,
}

/// The answer to `GET /authz/v1/assignments`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentList {
    /// The assignments that match the query.
    pub assignments: Vec<Assignment>,
}

/// The answer to an assign or unassign: whether it changed anything, and the rules' version now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentChange {
    /// `false` when the assignment already existed (assign) or did not exist (unassign).
    pub changed: bool,
    /// The rules' version after the change.
    pub version: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_batch_checks_are_told_apart() {
        let single: CheckRequest =
            serde_json::from_str(r#"{"subject":"user^a","action":"act^v","scope":"lib^x"}"#)
                .unwrap();
        assert!(matches!(single, CheckRequest::Single(_)));
        let batch: CheckRequest = serde_json::from_str(
            r#"{"checks":[{"subject":"user^a","action":"act^v","scope":"lib^x"}]}"#,
        )
        .unwrap();
        assert!(matches!(batch, CheckRequest::Batch(b) if b.checks.len() == 1));
        for bad in [
            r#"{"subject":"user^a","action":"act^v"}"#,
            r#"{"checks":{}}"#,
            "[]",
        ] {
            assert!(serde_json::from_str::<CheckRequest>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_version_is_an_added_member() {
        let old: CheckResult = serde_json::from_str(r#"{"allowed":true}"#).unwrap();
        assert_eq!(old.version, None);
        let new = CheckResult {
            allowed: false,
            version: Some(7),
        };
        assert_eq!(
            serde_json::to_string(&new).unwrap(),
            r#"{"allowed":false,"version":7}"#
        );
        let item = CheckResult {
            allowed: true,
            version: None,
        };
        assert_eq!(serde_json::to_string(&item).unwrap(), r#"{"allowed":true}"#);
        let batch: CheckBatchResult = serde_json::from_str(r#"{"results":[]}"#).unwrap();
        assert_eq!(batch.version, None);
    }
}
