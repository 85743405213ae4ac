//! Loads policy lines — a casbin policy CSV file or `casbin_rule` rows — into
//! typed rules, reading them exactly as pycasbin does: fields split at commas
//! outside `()`/`[]`, each field stripped of (Python) whitespace, `#` lines
//! skipped, extra fields on `g`/`g2` ignored. What pycasbin would fail on later
//! or silently misread (a `p` line of the wrong size, an effect other than
//! `allow`/`deny`, an unknown policy type) is refused here, at load.

use std::path::Path;

use crate::error::{LineError, PolicyError};

/// `eft` of a `p` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `allow`
    Allow,
    /// `deny`
    Deny,
}

/// A `p` line: `p, subject, action, scope pattern, effect`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Permission {
    /// Usually a role (`role^library_admin`); a user key grants that user directly.
    pub subject: String,
    /// `act^...`
    pub action: String,
    /// A `keyMatch` pattern (`lib^*`) or an exact scope.
    pub scope: String,
    /// Allow or deny.
    pub effect: Effect,
}

/// A `g` line: `g, subject, role, scope` (a role assignment, or role inheritance
/// when the subject is itself a role).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Assignment {
    /// `user^alice`, or a role.
    pub subject: String,
    /// `role^...`
    pub role: String,
    /// The scope the assignment holds in, or `*` for every scope.
    pub scope: String,
}

/// A `g2` line: `g2, granted, implied` — holding `granted` implies `implied`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Implication {
    /// The higher action.
    pub granted: String,
    /// The action it implies.
    pub implied: String,
}

/// One row of openedx-authz's `casbin_rule` table (casbin-django-orm-adapter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleRow {
    /// `p`, `g` or `g2`.
    pub ptype: String,
    /// `v0` … `v5`; empty strings are absent values.
    pub values: [String; 6],
}

/// Every rule of a policy, typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// `p` lines, in load order.
    pub permissions: Vec<Permission>,
    /// `g` lines, in load order.
    pub assignments: Vec<Assignment>,
    /// `g2` lines, in load order.
    pub implications: Vec<Implication>,
}

impl Policy {
    /// Parse the text of a policy CSV file (e.g. openedx-authz's `authz.policy`).
    pub fn parse_csv(text: &str) -> Result<Policy, PolicyError> {
        let mut policy = Policy::default();
        policy.extend_csv(text)?;
        Ok(policy)
    }

    /// Read and parse a policy CSV file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Policy, PolicyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Policy::parse_csv(&text)
    }

    /// Add the lines of a policy CSV text (pycasbin's file adapter: split at
    /// `\n`, strip each line).
    pub fn extend_csv(&mut self, text: &str) -> Result<(), PolicyError> {
        for (index, raw) in text.split('\n').enumerate() {
            self.add_line(py_strip(raw))
                .map_err(|reason| PolicyError::Line {
                    line: index + 1,
                    reason,
                })?;
        }
        Ok(())
    }

    /// Add `casbin_rule` rows. Each row is rebuilt into the text the Django
    /// adapter hands pycasbin (`ptype` then each non-empty value, joined by
    /// `", "`) and read like a CSV line, so a value containing a comma or a
    /// bracket is read the same way openedx-authz reads it.
    pub fn extend_rule_rows<'a>(
        &mut self,
        rows: impl IntoIterator<Item = &'a RuleRow>,
    ) -> Result<(), PolicyError> {
        for (index, row) in rows.into_iter().enumerate() {
            let mut text = row.ptype.clone();
            for value in row.values.iter().filter(|v| !v.is_empty()) {
                text.push_str(", ");
                text.push_str(value);
            }
            self.add_line(&text)
                .map_err(|reason| PolicyError::Row { row: index, reason })?;
        }
        Ok(())
    }

    /// Add one policy line (`p, ...`, `g, ...`, `g2, ...`). Empty lines and
    /// lines starting with `#` are skipped.
    pub fn add_line(&mut self, line: &str) -> Result<(), LineError> {
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let tokens = tokenize(line)?;
        let (ptype, fields) = match tokens.split_first() {
            Some((ptype, fields)) => (ptype.as_str(), fields),
            None => return Err(LineError::EmptyType),
        };
        match ptype {
            "p" => self.permissions.push(permission(fields)?),
            "g" => {
                let [subject, role, scope] = leading::<3>("g", fields)?;
                self.assignments.push(Assignment {
                    subject,
                    role,
                    scope,
                });
            }
            "g2" => {
                let [granted, implied] = leading::<2>("g2", fields)?;
                self.implications.push(Implication { granted, implied });
            }
            "" => return Err(LineError::EmptyType),
            other => return Err(LineError::UnknownType(other.to_owned())),
        }
        Ok(())
    }
}

fn permission(fields: &[String]) -> Result<Permission, LineError> {
    // pycasbin raises "invalid policy size" at every enforce for a `p` line
    // that is not exactly four fields; refuse it at load instead.
    if fields.len() != 4 {
        return Err(LineError::FieldCount {
            ptype: "p",
            expected: 4,
            found: fields.len(),
        });
    }
    let [subject, action, scope, effect] = leading::<4>("p", fields)?;
    let effect = match effect.as_str() {
        "allow" => Effect::Allow,
        "deny" => Effect::Deny,
        _ => return Err(LineError::Effect(effect)),
    };
    Ok(Permission {
        subject,
        action,
        scope,
        effect,
    })
}

/// The first `N` fields; more are ignored (pycasbin truncates grouping rules
/// to the number of `_` in their definition), fewer are an error.
fn leading<const N: usize>(
    ptype: &'static str,
    fields: &[String],
) -> Result<[String; N], LineError> {
    let count_error = || LineError::FieldCount {
        ptype,
        expected: N,
        found: fields.len(),
    };
    let head = fields.get(..N).ok_or_else(count_error)?;
    <[String; N]>::try_from(head.to_vec()).map_err(|_| count_error())
}

/// pycasbin's `_extract_tokens`: split at commas not nested in `()` or `[]`,
/// strip each token.
fn tokenize(line: &str) -> Result<Vec<String>, LineError> {
    let mut tokens = Vec::new();
    let mut depth: usize = 0;
    let mut start = 0;
    for (at, c) in line.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            // pycasbin pops its bracket stack without checking what it pops.
            ')' | ']' => depth = depth.checked_sub(1).ok_or(LineError::UnbalancedBracket)?,
            ',' if depth == 0 => {
                tokens.push(py_strip(line.get(start..at).unwrap_or_default()).to_owned());
                start = at + 1;
            }
            _ => {}
        }
    }
    tokens.push(py_strip(line.get(start..).unwrap_or_default()).to_owned());
    Ok(tokens)
}

/// Python's `str.strip()`: Unicode whitespace plus U+001C..U+001F, which
/// Python counts as whitespace and Rust does not.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_kinds() {
        let p = Policy::parse_csv(
            "# comment\n\np, role^a, act^v, lib^*, allow\r\n  g, user^u, role^a, *\n\
             g2, act^e, act^v\np, role^a, act^d, lib^lib:X:y, deny",
        )
        .unwrap();
        assert_eq!(p.permissions.len(), 2);
        assert_eq!(p.permissions[1].effect, Effect::Deny);
        assert_eq!(p.assignments[0].scope, "*");
        assert_eq!(p.implications[0].implied, "act^v");
    }

    #[test]
    fn fields_are_python_stripped() {
        let p = Policy::parse_csv("g,\u{a0}user^z\u{1f} ,role^r,\u{3000}lib^x\u{2028}").unwrap();
        assert_eq!(p.assignments[0].subject, "user^z");
        assert_eq!(p.assignments[0].scope, "lib^x");
    }

    #[test]
    fn brackets_nest_commas_like_pycasbin() {
        let p = Policy::parse_csv("g, user^a(b, c), role^r, lib^x").unwrap();
        assert_eq!(p.assignments[0].subject, "user^a(b, c)");
        // The comma inside the bracket swallows a separator: too few fields.
        let err = Policy::parse_csv("p, role^r, act^a, lib^x(y, allow").unwrap_err();
        assert!(matches!(
            err,
            PolicyError::Line {
                line: 1,
                reason: LineError::FieldCount { found: 3, .. }
            }
        ));
        let err = Policy::parse_csv("g, a), b, c").unwrap_err();
        assert!(matches!(
            err,
            PolicyError::Line {
                reason: LineError::UnbalancedBracket,
                ..
            }
        ));
    }

    #[test]
    fn grouping_extras_ignored_p_size_and_effect_checked() {
        let p = Policy::parse_csv("g, u, r, d, extra\ng2, a, b, c").unwrap();
        assert_eq!(p.assignments[0].scope, "d");
        assert_eq!(p.implications[0].implied, "b");
        for bad in [
            "p, r, a, s",
            "p, r, a, s, allow, x",
            "p, r, a, s, Allow",
            "g, u, r",
            "g3, a, b",
            ", a, b",
        ] {
            assert!(Policy::parse_csv(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rule_rows_skip_empty_values_like_the_django_adapter() {
        let rows = [
            RuleRow {
                ptype: "g".into(),
                values: [
                    "user^u".into(),
                    String::new(),
                    "role^r".into(),
                    "lib^x".into(),
                    String::new(),
                    String::new(),
                ],
            },
            RuleRow {
                ptype: "p".into(),
                values: [
                    "role^r".into(),
                    "act^a".into(),
                    "lib^*".into(),
                    "allow".into(),
                    String::new(),
                    String::new(),
                ],
            },
        ];
        let mut p = Policy::default();
        p.extend_rule_rows(&rows).unwrap();
        assert_eq!(p.assignments[0].role, "role^r");
        assert_eq!(p.permissions[0].scope, "lib^*");
        let bad = [RuleRow {
            ptype: "p".into(),
            ..RuleRow::default()
        }];
        assert!(matches!(
            p.extend_rule_rows(&bad),
            Err(PolicyError::Row { row: 0, .. })
        ));
    }
}
