//! Reading rules to import, in either of the two forms Open edX has them:
//!
//! * a casbin policy CSV file (openedx-authz's `authz.policy`): lines `p, ...`, `g, ...`, `g2, ...`;
//! * an export of the `casbin_rule` table as CSV with a header row (`id,ptype,v0,...,v5`, as
//!   `psql \copy casbin_rule TO 'f.csv' CSV HEADER` or a MySQL client writes it).
//!
//! The form is told by the first line that is neither empty nor a comment: a header naming a
//! `ptype` column means an export. Either way every rule is read as openedx-authz reads it
//! ([`super::rule::canonical`]).

use latchkey_authz::{Policy, PolicyError, RuleRow};

use super::rule::{canonical, checked, rows_of, RuleError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    PolicyCsv,
    CasbinRuleCsv,
}

/// What is wrong with an import file, and on which line.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct ImportError {
    /// 1-based.
    pub line: usize,
    pub problem: ImportProblem,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportProblem {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("{0}")]
    Csv(&'static str),
}

/// The rules of an import file, canonical, in file order (duplicates kept).
pub fn parse_import(text: &str) -> Result<(ImportFormat, Vec<RuleRow>), ImportError> {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    let is_export = first.is_some_and(|l| {
        let header = l.to_ascii_lowercase();
        header
            .split(',')
            .any(|c| c.trim().trim_matches('"') == "ptype")
    });
    if is_export {
        Ok((ImportFormat::CasbinRuleCsv, casbin_rule_csv(text)?))
    } else {
        Ok((ImportFormat::PolicyCsv, policy_csv(text)?))
    }
}

/// Policy lines, split and stripped as pycasbin's file adapter does.
fn policy_csv(text: &str) -> Result<Vec<RuleRow>, ImportError> {
    let mut rows = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let at = |problem: RuleError| ImportError {
            line: index + 1,
            problem: problem.into(),
        };
        let policy = Policy::parse_csv(line).map_err(|e| match e {
            PolicyError::Line { reason, .. } | PolicyError::Row { reason, .. } => {
                at(RuleError::Line(reason))
            }
            PolicyError::Io { .. } => at(RuleError::NotARule),
        })?;
        for row in rows_of(policy) {
            rows.push(checked(row).map_err(at)?);
        }
    }
    Ok(rows)
}

/// An RFC 4180 CSV export of `casbin_rule` with a header row; columns other than `ptype` and
/// `v0`..`v5` (such as `id`) are ignored, missing `v` columns are empty.
fn casbin_rule_csv(text: &str) -> Result<Vec<RuleRow>, ImportError> {
    let mut records = csv_records(text)?.into_iter();
    let Some((header_line, header)) = records.next() else {
        return Ok(Vec::new());
    };
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let ptype = column("ptype").ok_or(ImportError {
        line: header_line,
        problem: ImportProblem::Csv("the header has no ptype column"),
    })?;
    let values: Vec<Option<usize>> = (0..6).map(|i| column(&format!("v{i}"))).collect();
    let mut rows = Vec::new();
    for (line, record) in records {
        if record.len() == 1 && record[0].trim().is_empty() {
            continue;
        }
        if record.len() != header.len() {
            return Err(ImportError {
                line,
                problem: ImportProblem::Csv(
                    "the record has another number of fields than the header",
                ),
            });
        }
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).cloned().unwrap_or_default();
        let mut raw = RuleRow {
            ptype: get(Some(ptype)),
            ..RuleRow::default()
        };
        for (slot, i) in raw.values.iter_mut().zip(&values) {
            *slot = get(*i);
        }
        let read = canonical(&raw).map_err(|e| ImportError {
            line,
            problem: e.into(),
        })?;
        rows.extend(read);
    }
    Ok(rows)
}

/// RFC 4180 records with the line each starts on: fields separated by commas, optionally quoted
/// with `"` (a quoted field may hold commas, newlines and `""` for a quote); CRLF or LF.
fn csv_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, ImportError> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut start = 1;
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                line += usize::from(c == '\n');
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                fields.push(std::mem::take(&mut field));
                records.push((start, std::mem::take(&mut fields)));
                line += 1;
                start = line;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(ImportError {
            line: start,
            problem: ImportProblem::Csv("a quoted field is never closed"),
        });
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push((start, fields));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::rule::line;

    fn lines(rows: &[RuleRow]) -> Vec<String> {
        rows.iter().map(line).collect()
    }

    #[test]
    fn policy_files_are_read_like_pycasbin() {
        let (format, rows) = parse_import(
            "# roles\n\np, role^a, act^v, lib^*, allow\r\n  g, user^u, role^a, lib^lib:X:y\n\
             g2, act^e, act^v\n",
        )
        .unwrap();
        assert_eq!(format, ImportFormat::PolicyCsv);
        assert_eq!(
            lines(&rows),
            [
                "p, role^a, act^v, lib^*, allow",
                "g, user^u, role^a, lib^lib:X:y",
                "g2, act^e, act^v"
            ]
        );
        let err = parse_import("g, user^u, role^a, lib^x\np, role^a, act^v, lib^*").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(
            err.to_string().starts_with("line 2: `p` needs 4 fields"),
            "{err}"
        );
    }

    #[test]
    fn casbin_rule_exports_are_read_with_their_header() {
        let export = "id,ptype,v0,v1,v2,v3,v4,v5\r\n\
                      1,p,role^a,act^v,lib^*,allow,,\r\n\
                      2,g,user^u,role^a,\"course-v1^course-v1:O+C+R\",,,\r\n\
                      3,g,\"user^a(b, c)\",role^a,*,,,\n\
                      4,g2,act^e,act^v,,,,\n";
        let (format, rows) = parse_import(export).unwrap();
        assert_eq!(format, ImportFormat::CasbinRuleCsv);
        assert_eq!(
            lines(&rows),
            [
                "p, role^a, act^v, lib^*, allow",
                "g, user^u, role^a, course-v1^course-v1:O+C+R",
                "g, user^a(b, c), role^a, *",
                "g2, act^e, act^v"
            ]
        );
        let err = parse_import("ptype,v0,v1\ng,user^u\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err = parse_import("ptype,v0,v1,v2\ng,user^u,role^a,\"lib^x\n").unwrap_err();
        assert!(err.to_string().contains("never closed"), "{err}");
        let err = parse_import("id,ptype,v0,v1,v2\n1,p,role^a,act^v,lib^*\n").unwrap_err();
        assert!(err.to_string().starts_with("line 2:"), "{err}");
    }

    #[test]
    fn quoted_fields_hold_quotes_and_newlines() {
        let records = csv_records("a,\"b \"\"q\"\"\",\"c\nd\"\ne,f").unwrap();
        assert_eq!(records[0].1, ["a", "b \"q\"", "c\nd"]);
        assert_eq!(records[1], (3, vec!["e".to_owned(), "f".to_owned()]));
    }
}
