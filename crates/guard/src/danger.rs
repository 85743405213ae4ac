//! Options that weaken the guard. Each is named for what it gives up, is off by default, and is
//! reached only through [`GuardConfig::dangerous`](crate::GuardConfig::dangerous), so that a
//! reviewer can find every use with one search.
//!
//! ```
//! let mut config = latchkey_guard::GuardConfig::new("http://lms.internal/oauth2", "openedx");
//! // A service mesh terminates TLS next to the issuer:
//! config.dangerous().allow_plain_http();
//! ```

/// The risky switches themselves; all `false` by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DangerOptions {
    pub(crate) allow_plain_http: bool,
    pub(crate) disable_cookie_csrf: bool,
    pub(crate) skip_version_check: bool,
}

/// A handle on a [`GuardConfig`](crate::GuardConfig)'s risky options.
#[derive(Debug)]
pub struct DangerousConfig<'a> {
    pub(crate) danger: &'a mut DangerOptions,
}

impl DangerousConfig<'_> {
    /// Fetch keys and introspect over plain `http` with a non-loopback host. Anyone on the path
    /// can then substitute the keys and mint tokens this guard accepts. (Loopback hosts are
    /// always allowed: that is a sidecar or a test.)
    pub fn allow_plain_http(&mut self) -> &mut Self {
        self.danger.allow_plain_http = true;
        self
    }

    /// Accept cookie-authenticated unsafe requests (POST, PUT, PATCH, DELETE, ...) without the
    /// CSRF header. Any page the user visits can then act as the user through those routes.
    pub fn disable_cookie_csrf(&mut self) -> &mut Self {
        self.danger.disable_cookie_csrf = true;
        self
    }

    /// Accept tokens whatever their `version` claim says, including a future major version whose
    /// meaning this guard does not know.
    pub fn skip_version_check(&mut self) -> &mut Self {
        self.danger.skip_version_check = true;
        self
    }
}
