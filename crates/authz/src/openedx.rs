//! The data files of openedx-authz 0.23.0, vendored once for the whole workspace (their origin
//! and how to check them: `openedx/README.md` in this crate).

/// openedx-authz 0.23.0's `model.conf`: the one model [`Model::parse`](crate::Model::parse)
/// accepts.
pub const OPENEDX_MODEL: &str = include_str!("../openedx/model.conf");

/// openedx-authz 0.23.0's `authz.policy`: the default roles (`p` lines) and action implications
/// (`g2` lines), and no assignments. Load it with [`Policy::parse_csv`](crate::Policy::parse_csv).
pub const OPENEDX_POLICY: &str = include_str!("../openedx/authz.policy");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Model, Policy};

    #[test]
    fn the_vendored_files_load() {
        assert!(Model::parse(OPENEDX_MODEL).is_ok());
        let policy = Policy::parse_csv(OPENEDX_POLICY).unwrap();
        assert!(
            policy.assignments.is_empty(),
            "no user is assigned anything"
        );
        assert!(!policy.permissions.is_empty() && !policy.implications.is_empty());
    }
}
