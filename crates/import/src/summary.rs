//! What an import did, by kind of row, and the rows it could not take.

use std::collections::BTreeMap;
use std::fmt;

use crate::openedx::census::Malformed;

/// One kind of row: how many were new here, changed, already as upstream has them, or skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    pub imported: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// By reason.
    pub skipped: BTreeMap<String, u64>,
}

impl Tally {
    pub fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_default() += 1;
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Summary {
    /// Nothing was kept: every count says what a real run would have done.
    pub dry_run: bool,
    pub users: Tally,
    pub clients: Tally,
    pub refresh_tokens: Tally,
    pub access_tokens: Tally,
    /// Rows of known models that could not be read, by position.
    pub malformed: Vec<Malformed>,
    /// Rows of models this importer does not read, by model.
    pub ignored: BTreeMap<String, u64>,
    /// Things the operator should know, one line each (a skipped user named, a scope dropped).
    pub notes: Vec<String>,
    /// Notes past [`NOTES_SHOWN`] are counted, not kept.
    pub notes_not_shown: u64,
}

/// How many notes a summary keeps: an export with 100 000 case-twin emails still prints a page.
pub const NOTES_SHOWN: usize = 200;

impl Summary {
    pub fn note(&mut self, line: String) {
        if self.notes.len() < NOTES_SHOWN {
            self.notes.push(line);
        } else {
            self.notes_not_shown += 1;
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            writeln!(f, "dry run: nothing was written; a real run would do this:")?;
        }
        writeln!(
            f,
            "{:<16} {:>9} {:>9} {:>9} {:>9}",
            "", "imported", "updated", "unchanged", "skipped"
        )?;
        for (name, t) in [
            ("users", &self.users),
            ("clients", &self.clients),
            ("refresh tokens", &self.refresh_tokens),
            ("access tokens", &self.access_tokens),
        ] {
            writeln!(
                f,
                "{:<16} {:>9} {:>9} {:>9} {:>9}",
                name,
                t.imported,
                t.updated,
                t.unchanged,
                t.skipped_total()
            )?;
        }
        for (name, t) in [
            ("users", &self.users),
            ("clients", &self.clients),
            ("refresh tokens", &self.refresh_tokens),
            ("access tokens", &self.access_tokens),
        ] {
            for (reason, n) in &t.skipped {
                writeln!(f, "skipped {name}: {n} {reason}")?;
            }
        }
        for m in &self.malformed {
            let model = if m.model.is_empty() { "?" } else { &m.model };
            writeln!(f, "malformed row {} ({model}): {}", m.position, m.problem)?;
        }
        if !self.ignored.is_empty() {
            let ignored: Vec<String> = self
                .ignored
                .iter()
                .map(|(m, n)| format!("{m} {n}"))
                .collect();
            writeln!(f, "ignored models: {}", ignored.join(", "))?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        if self.notes_not_shown > 0 {
            writeln!(f, "note: {} more notes not shown", self.notes_not_shown)?;
        }
        Ok(())
    }
}
