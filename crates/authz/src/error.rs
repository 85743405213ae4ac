//! Errors, one enum per concern: loading the model, loading policy lines, a
//! request openedx-authz would reject, and a failed staff look-up.
//!
//! `Display` texts never echo keys (they may come from clients); the offending
//! values are kept in fields for operators.

use std::path::PathBuf;

/// The model file could not be read, or it is not the Open edX AuthZ model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read.
    #[error("cannot read model file {}", path.display())]
    Io {
        /// The path passed in.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not `[section]`, `key = value` or a comment.
    #[error("model line {line}: {reason}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A required definition is absent.
    #[error("model has no `{key}` in [{section}]")]
    Missing {
        /// The section that should hold it.
        section: &'static str,
        /// The key that is missing.
        key: &'static str,
    },
    /// A section, key or value this engine does not evaluate. Refused at load
    /// so that no request is ever answered by a model it does not implement.
    #[error(
        "unsupported model feature: [{section}] {key} = {found:?}; latchkey-authz evaluates only \
         the Open edX AuthZ model ({expected})"
    )]
    Unsupported {
        /// Section of the offending line.
        section: String,
        /// Key of the offending line (empty for a whole section).
        key: String,
        /// The value found.
        found: String,
        /// What is supported there.
        expected: &'static str,
    },
}

/// A policy line or casbin rule row that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read (or is not UTF-8).
    #[error("cannot read policy file {}", path.display())]
    Io {
        /// The path passed in.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a policy CSV file.
    #[error("policy line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        #[source]
        reason: LineError,
    },
    /// A `casbin_rule` row.
    #[error("casbin rule row {row}: {reason}")]
    Row {
        /// 0-based position in the rows passed in.
        row: usize,
        /// What is wrong with it.
        #[source]
        reason: LineError,
    },
}

/// Why one policy line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// A `)` or `]` closes nothing (pycasbin fails on it too).
    #[error("unbalanced closing bracket")]
    UnbalancedBracket,
    /// The policy type (first field) is empty.
    #[error("empty policy type")]
    EmptyType,
    /// A policy type the model does not define (pycasbin silently drops these;
    /// Latchkey refuses them so that no rule an operator wrote is ignored).
    #[error("unknown policy type (the model defines p, g and g2)")]
    UnknownType(String),
    /// Wrong number of fields for the type.
    #[error("`{ptype}` needs {expected} fields, found {found}")]
    FieldCount {
        /// `p`, `g` or `g2`.
        ptype: &'static str,
        /// How many it needs (`g` and `g2` accept and ignore extra fields, as pycasbin does).
        expected: usize,
        /// How many the line has.
        found: usize,
    },
    /// A `p` line whose effect is neither `allow` nor `deny` (pycasbin would
    /// silently treat it as neither).
    #[error("effect must be `allow` or `deny`")]
    Effect(String),
}

/// A request that openedx-authz rejects with an exception: Latchkey answers it
/// with this error, never with a guessed decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The subject has no `^` (openedx-authz: `IndexError` splitting the key,
    /// or `ValueError` for an empty subject).
    #[error("subject is not a namespaced key (`namespace^key`)")]
    SubjectNotNamespaced {
        /// The subject received.
        subject: String,
    },
    /// The scope does not match `^.+\^.+$` (openedx-authz: `ValueError`),
    /// e.g. the global `*` or `lib^` with no key.
    #[error("scope is not a namespaced key (`namespace^key`); `*` and an empty key are not request scopes")]
    ScopeNotNamespaced {
        /// The scope received.
        scope: String,
    },
}

/// The caller's staff directory failed to answer.
#[derive(Debug, thiserror::Error)]
#[error("staff directory look-up failed")]
pub struct DirectoryError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Why a check produced no decision.
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    /// The request is one openedx-authz rejects.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The staff directory could not say whether the subject is staff.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}
