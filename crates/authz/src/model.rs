//! Reads a casbin `model.conf` and accepts it only if it is the Open edX AuthZ
//! model. Any other request, policy or role definition, effect or matcher is
//! refused with [`ModelError::Unsupported`]: this engine implements one model
//! and must never answer a request under a model it does not implement.
//!
//! The comparison ignores comments and whitespace, so the shipped file (with its
//! long comment blocks) and a bare copy of the functional lines both load.

use std::path::Path;

use crate::error::ModelError;

/// Proof that a model file is the Open edX AuthZ model (openedx-authz 0.23.0
/// and later; the functional lines have not changed since). Only [`Model::parse`]
/// and [`Model::from_path`] build one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    _checked: (),
}

/// `(section, key, expected value with all whitespace removed, human form)`.
const EXPECTED: [(&str, &str, &str, &str); 6] = [
    ("request_definition", "r", "sub,act,scope", "r = sub, act, scope"),
    ("policy_definition", "p", "sub,act,scope,eft", "p = sub, act, scope, eft"),
    ("role_definition", "g", "_,_,_", "g = _, _, _"),
    ("role_definition", "g2", "_,_", "g2 = _, _"),
    (
        "policy_effect",
        "e",
        "some(where(p.eft==allow))&&!some(where(p.eft==deny))",
        "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))",
    ),
    (
        "matchers",
        "m",
        "is_staff_or_superuser(r.sub,r.act,r.scope)||(g(r.sub,p.sub,r.scope)||g(r.sub,p.sub,\"*\"))\
         &&keyMatch(r.scope,p.scope)&&(r.act==p.act||g2(p.act,r.act))",
        "the openedx-authz matcher",
    ),
];

impl Model {
    /// Parse model text and check that it is the Open edX AuthZ model.
    pub fn parse(text: &str) -> Result<Model, ModelError> {
        let entries = read_ini(text)?;
        for (section, key, value) in &entries {
            let known = EXPECTED
                .iter()
                .find(|(s, k, _, _)| s == section && k == key);
            let Some((_, _, expected, human)) = known else {
                return Err(ModelError::Unsupported {
                    section: section.clone(),
                    key: key.clone(),
                    found: value.clone(),
                    expected: "only r, p, g, g2, e and m as openedx-authz defines them",
                });
            };
            if squeeze(value) != *expected {
                return Err(ModelError::Unsupported {
                    section: section.clone(),
                    key: key.clone(),
                    found: value.clone(),
                    expected: human,
                });
            }
        }
        for (section, key, _, _) in EXPECTED {
            if !entries.iter().any(|(s, k, _)| s == section && k == key) {
                return Err(ModelError::Missing { section, key });
            }
        }
        Ok(Model { _checked: () })
    }

    /// Read and parse a model file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Model, ModelError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Model::parse(&text)
    }
}

/// All whitespace removed: the supported values have no place where
/// whitespace separates two tokens, so this is a safe normal form.
fn squeeze(value: &str) -> String {
    value.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `(section, key, value)` for every `key = value` line.
fn read_ini(text: &str) -> Result<Vec<(String, String, String)>, ModelError> {
    let mut section: Option<String> = None;
    let mut entries: Vec<(String, String, String)> = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.trim().to_owned());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(syntax(line_no, "expected `key = value`"));
        };
        let Some(section) = section.as_ref() else {
            return Err(syntax(line_no, "definition before any [section]"));
        };
        let (key, value) = (key.trim(), value.trim());
        if value.ends_with('\\') {
            return Err(syntax(line_no, "line continuation is not supported"));
        }
        if entries.iter().any(|(s, k, _)| s == section && k == key) {
            return Err(syntax(line_no, "key defined twice in one section"));
        }
        entries.push((section.clone(), key.to_owned(), value.to_owned()));
    }
    Ok(entries)
}

fn syntax(line: usize, reason: &'static str) -> ModelError {
    ModelError::Syntax { line, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BARE: &str = "[request_definition]\nr = sub, act, scope\n\
        [policy_definition]\np = sub, act, scope, eft\n\
        [role_definition]\ng = _, _, _\ng2 = _, _\n\
        [policy_effect]\ne = some(where (p.eft == allow)) && !some(where (p.eft == deny))\n\
        [matchers]\nm = is_staff_or_superuser(r.sub, r.act, r.scope) || (g(r.sub, p.sub, r.scope) \
        || g(r.sub, p.sub, \"*\")) && keyMatch(r.scope, p.scope) && (r.act == p.act || g2(p.act, r.act))\n";

    fn unsupported_key(text: &str) -> String {
        match Model::parse(text) {
            Err(ModelError::Unsupported { key, .. }) => key,
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[test]
    fn accepts_the_functional_lines() {
        assert!(Model::parse(BARE).is_ok());
        assert!(Model::parse(&BARE.replace("\n", "\r\n")).is_ok());
    }

    #[test]
    fn refuses_other_effects() {
        let text = BARE.replace(
            "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))",
            "e = some(where (p.eft == allow))",
        );
        assert_eq!(unsupported_key(&text), "e");
    }

    #[test]
    fn refuses_other_matchers_and_functions() {
        let text = BARE.replace("keyMatch(", "keyMatch2(");
        assert_eq!(unsupported_key(&text), "m");
        let text = BARE.replace("r.act == p.act ||", "");
        assert_eq!(unsupported_key(&text), "m");
    }

    #[test]
    fn refuses_other_definitions() {
        assert_eq!(
            unsupported_key(&BARE.replace("g = _, _, _", "g = _, _")),
            "g"
        );
        assert_eq!(
            unsupported_key(&BARE.replace("r = sub, act, scope", "r = sub, obj, act")),
            "r"
        );
        assert_eq!(
            unsupported_key(&BARE.replace("g2 = _, _\n", "g2 = _, _\ng3 = _, _\n")),
            "g3"
        );
        let extra_section = format!("{BARE}[custom]\nx = 1\n");
        assert_eq!(unsupported_key(&extra_section), "x");
    }

    #[test]
    fn reports_missing_and_syntax() {
        let text = BARE.replace("g2 = _, _\n", "");
        assert!(matches!(
            Model::parse(&text),
            Err(ModelError::Missing { key: "g2", .. })
        ));
        assert!(matches!(
            Model::parse("r = sub, act, scope"),
            Err(ModelError::Syntax { line: 1, .. })
        ));
        let continued = BARE.replace("r = sub, act, scope", "r = sub, act, \\\n scope");
        assert!(matches!(
            Model::parse(&continued),
            Err(ModelError::Syntax { .. })
        ));
    }
}
