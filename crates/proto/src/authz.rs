//! The authorization API (`/authz/v1/...`): Open edX AuthZ checks, scopes and role assignments.

use serde::{Deserialize, Serialize};

/// One question: may `subject` do `action` in `scope`? Keys are namespaced with `^`:
/// `user^alice`, `act^content_libraries.view_library`, `lib^lib:MITx:physics`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub subject: String,
    pub action: String,
    pub scope: String,
}

/// `POST /authz/v1/check` takes one check, or `{"checks": [...]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CheckRequest {
    Batch(CheckBatch),
    Single(Check),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBatch {
    pub checks: Vec<Check>,
}

/// The answer to one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub allowed: bool,
}

/// The answers to a batch, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckBatchResult {
    pub results: Vec<CheckResult>,
}

/// `GET /authz/v1/scopes?subject=..&action=..`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopesQuery {
    pub subject: String,
    pub action: String,
}

/// The scopes where the subject holds the action through its roles (`*` for a global
/// assignment). `staff`: the subject is staff or superuser, so it also holds the action in every
/// `lib^` and `course-v1^` scope where no deny line applies to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopesResponse {
    pub scopes: Vec<String>,
    pub staff: bool,
}

/// A role assignment: `POST /authz/v1/assignments` body, `DELETE` query, `GET` list item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub subject: String,
    pub role: String,
    pub scope: String,
}

/// `GET /authz/v1/assignments?subject=..&role=..&scope=..` (each optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentQuery {
    pub subject: Option<String>,
    pub role: Option<String>,
    pub scope: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentList {
    pub assignments: Vec<Assignment>,
}

/// The answer to an assign or unassign: whether it changed anything, and the rules' version now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentChange {
    pub changed: bool,
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
}
