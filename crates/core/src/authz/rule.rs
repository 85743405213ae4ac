//! Rules as they are stored: canonical `casbin_rule` rows. Whatever the source (an assignment from
//! the API, a policy CSV line, an Open edX `casbin_rule` row), a rule is read the way openedx-authz
//! reads it (`latchkey-authz`'s parser) and stored as the fields it read: `p` in `v0..v3`, `g` in
//! `v0..v2`, `g2` in `v0..v1`, stripped, the rest empty. So two rows that mean the same rule are one
//! row, and removing a rule from the running engine in place always matches the database.

use latchkey_authz::{Effect, LineError, Policy, PolicyError, RuleRow};

/// Django's `casbin_rule` columns hold 255 characters; counting bytes also keeps every row within
/// PostgreSQL's limit for the unique index over all seven columns.
pub const MAX_VALUE_BYTES: usize = 255;

/// Why a rule was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{0}")]
    Line(LineError),
    #[error("an empty or comment row is not a rule")]
    NotARule,
    #[error("a rule value is empty")]
    Empty,
    #[error("a rule value is longer than {MAX_VALUE_BYTES} bytes")]
    TooLong,
    #[error(
        "{0} would be read as something else: no surrounding whitespace, and commas only inside \
         balanced brackets"
    )]
    Unreadable(&'static str),
    #[error("subject must be a namespaced key such as user^alice")]
    Subject,
    #[error("role must be role^NAME")]
    Role,
    #[error("scope must be a namespaced key such as lib^lib:Org:slug, or * for every scope")]
    Scope,
}

/// A role assignment (`g, subject, role, scope`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleAssignment {
    pub subject: String,
    pub role: String,
    pub scope: String,
}

impl RoleAssignment {
    /// Validates an assignment given field by field (API, CLI): each field must be read back by
    /// openedx-authz exactly as given.
    pub fn new(subject: &str, role: &str, scope: &str) -> Result<Self, RuleError> {
        if !is_namespaced(subject) {
            return Err(RuleError::Subject);
        }
        if role.strip_prefix("role^").is_none_or(str::is_empty) {
            return Err(RuleError::Role);
        }
        if scope != "*" && !is_namespaced(scope) {
            return Err(RuleError::Scope);
        }
        let assignment = RoleAssignment {
            subject: subject.to_owned(),
            role: role.to_owned(),
            scope: scope.to_owned(),
        };
        let read = canonical(&assignment.row())?.ok_or(RuleError::NotARule)?;
        for (field, (given, got)) in ["subject", "role", "scope"]
            .into_iter()
            .zip(assignment.row().values.iter().zip(&read.values))
        {
            if given != got {
                return Err(RuleError::Unreadable(field));
            }
        }
        Ok(assignment)
    }

    /// The `g` row.
    pub fn row(&self) -> RuleRow {
        row("g", [&self.subject, &self.role, &self.scope])
    }

    /// The assignment a canonical `g` row holds.
    pub fn from_row(row: &RuleRow) -> Option<Self> {
        let [subject, role, scope, ..] = &row.values;
        (row.ptype == "g").then(|| RoleAssignment {
            subject: subject.clone(),
            role: role.clone(),
            scope: scope.clone(),
        })
    }
}

/// Reads one `casbin_rule` row as openedx-authz does and returns its canonical form; `None` for a
/// row openedx-authz skips (empty, or a comment).
pub fn canonical(raw: &RuleRow) -> Result<Option<RuleRow>, RuleError> {
    let mut policy = Policy::default();
    policy
        .extend_rule_rows(std::iter::once(raw))
        .map_err(|e| match e {
            PolicyError::Row { reason, .. } | PolicyError::Line { reason, .. } => {
                RuleError::Line(reason)
            }
            PolicyError::Io { .. } => RuleError::NotARule,
        })?;
    rows_of(policy).pop().map(checked).transpose()
}

/// Every rule of a parsed policy as canonical rows (permissions, assignments, implications).
pub fn rows_of(policy: Policy) -> Vec<RuleRow> {
    let mut rows = Vec::new();
    for p in policy.permissions {
        let effect = match p.effect {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        };
        rows.push(row("p", [&p.subject, &p.action, &p.scope, effect]));
    }
    for a in policy.assignments {
        rows.push(row("g", [&a.subject, &a.role, &a.scope]));
    }
    for i in policy.implications {
        rows.push(row("g2", [&i.granted, &i.implied]));
    }
    rows
}

/// Refuses empty and over-long values (a canonical row's unused columns are empty, not values).
pub fn checked(row: RuleRow) -> Result<RuleRow, RuleError> {
    let used = match row.ptype.as_str() {
        "p" => 4,
        "g" => 3,
        _ => 2,
    };
    for value in row.values.iter().take(used) {
        if value.is_empty() {
            return Err(RuleError::Empty);
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(RuleError::TooLong);
        }
    }
    Ok(row)
}

/// The rule as one policy line (what the Django adapter hands pycasbin).
pub fn line(row: &RuleRow) -> String {
    let mut text = row.ptype.clone();
    for value in row.values.iter().filter(|v| !v.is_empty()) {
        text.push_str(", ");
        text.push_str(value);
    }
    text
}

fn row<const N: usize>(ptype: &str, fields: [&str; N]) -> RuleRow {
    let mut row = RuleRow {
        ptype: ptype.to_owned(),
        ..RuleRow::default()
    };
    for (slot, field) in row.values.iter_mut().zip(fields) {
        *slot = field.to_owned();
    }
    row
}

/// `namespace^key` with both parts non-empty (openedx-authz's `^.+\^.+$`, without newlines).
fn is_namespaced(key: &str) -> bool {
    !key.contains('\n')
        && key
            .char_indices()
            .any(|(at, c)| c == '^' && at > 0 && at + 1 < key.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(ptype: &str, values: &[&str]) -> RuleRow {
        let mut r = RuleRow {
            ptype: ptype.into(),
            ..RuleRow::default()
        };
        for (slot, v) in r.values.iter_mut().zip(values) {
            *slot = (*v).into();
        }
        r
    }

    #[test]
    fn rows_are_stored_as_openedx_authz_reads_them() {
        // Gaps are skipped and values stripped, as the Django adapter and pycasbin do.
        let got = canonical(&raw("g", &[" user^a", "", "role^r ", "lib^x", "extra"]))
            .unwrap()
            .unwrap();
        assert_eq!(got, raw("g", &["user^a", "role^r", "lib^x"]));
        let p = canonical(&raw("p", &["role^r", "act^a", "lib^*", "deny"]))
            .unwrap()
            .unwrap();
        assert_eq!(line(&p), "p, role^r, act^a, lib^*, deny");
        assert_eq!(canonical(&raw("", &[])).unwrap(), None);
        assert!(matches!(
            canonical(&raw("p", &["role^r", "act^a", "lib^*", "maybe"])),
            Err(RuleError::Line(LineError::Effect(_)))
        ));
        assert_eq!(
            canonical(&raw("g2", &["act^a", &"x".repeat(256)])),
            Err(RuleError::TooLong)
        );
        assert_eq!(
            canonical(&raw("g", &["user^a", " ", "role^r", "lib^x"])),
            Err(RuleError::Empty)
        );
    }

    #[test]
    fn assignments_must_read_back_as_given() {
        let a = RoleAssignment::new("user^alice", "role^library_admin", "lib^lib:X:y").unwrap();
        assert_eq!(RoleAssignment::from_row(&a.row()), Some(a));
        assert!(RoleAssignment::new("user^a", "role^r", "*").is_ok());
        assert!(RoleAssignment::new("user^a(b, c)", "role^r", "*").is_ok());
        for (s, r, d, err) in [
            ("alice", "role^r", "lib^x", RuleError::Subject),
            ("user^a", "library_admin", "lib^x", RuleError::Role),
            ("user^a", "role^", "lib^x", RuleError::Role),
            ("user^a", "role^r", "lib^", RuleError::Scope),
            (
                "user^a, b",
                "role^r",
                "lib^x",
                RuleError::Unreadable("subject"),
            ),
            (
                "user^a ",
                "role^r",
                "lib^x",
                RuleError::Unreadable("subject"),
            ),
            (
                "user^a",
                "role^r",
                "lib^x)",
                RuleError::Line(LineError::UnbalancedBracket),
            ),
        ] {
            assert_eq!(RoleAssignment::new(s, r, d), Err(err), "{s} {r} {d}");
        }
    }
}
