//! The caller's answer to openedx-authz's `is_staff_or_superuser`.
//!
//! Upstream looks the user up in Django's user table (`email = key OR
//! username = key`, retired users excluded) and allows when `is_staff or
//! is_superuser`, active or not. The engine does no I/O, so the caller supplies
//! that answer through [`StaffDirectory`].

use std::collections::HashSet;

use crate::error::DirectoryError;

/// Says whether a user key (the text after the subject's first `^`, a
/// username or an email) names a staff or superuser account.
pub trait StaffDirectory: Send + Sync {
    /// `Ok(true)` when the key names a staff or superuser account (active or
    /// not), `Ok(false)` when it names another account or none.
    fn is_staff_or_superuser(&self, user_key: &str) -> Result<bool, DirectoryError>;
}

/// Any `Fn(&str) -> bool` closure is a directory that never fails.
impl<F> StaffDirectory for F
where
    F: Fn(&str) -> bool + Send + Sync,
{
    fn is_staff_or_superuser(&self, user_key: &str) -> Result<bool, DirectoryError> {
        Ok(self(user_key))
    }
}

/// A directory in which nobody is staff.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStaff;

impl StaffDirectory for NoStaff {
    fn is_staff_or_superuser(&self, _user_key: &str) -> Result<bool, DirectoryError> {
        Ok(false)
    }
}

/// A fixed set of usernames and emails that are staff or superusers.
#[derive(Debug, Clone, Default)]
pub struct StaffSet(HashSet<String>);

impl StaffSet {
    /// The given usernames and emails are staff.
    pub fn new<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        StaffSet(keys.into_iter().map(Into::into).collect())
    }
}

impl StaffDirectory for StaffSet {
    fn is_staff_or_superuser(&self, user_key: &str) -> Result<bool, DirectoryError> {
        Ok(self.0.contains(user_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_sets_and_nobody() {
        let by_prefix = |key: &str| key.starts_with("adm");
        assert!(by_prefix.is_staff_or_superuser("admin").unwrap());
        let set = StaffSet::new(["root", "root@example.com"]);
        assert!(set.is_staff_or_superuser("root@example.com").unwrap());
        assert!(!set.is_staff_or_superuser("alice").unwrap());
        assert!(!NoStaff.is_staff_or_superuser("root").unwrap());
    }
}
