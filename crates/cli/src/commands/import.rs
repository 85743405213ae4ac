//! `latchkey import ...`

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Subcommand;
use latchkey_core::scope::ScopeRegistry;
use latchkey_core::store::Store;
use latchkey_import::{OpenEdxImport, Progress, Settings};
use latchkey_server::clock::now;

use crate::config::Config;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import an Open edX LMS from its Django `dumpdata` JSON export
    ///
    /// Reads `auth.user`, `student.userprofile`, `student.anonymoususerid`,
    /// `oauth2_provider.application`, `.accesstoken`, `.refreshtoken`,
    /// `oauth_dispatch.applicationaccess` and `.restrictedapplication`; other models are counted
    /// and ignored. Users keep their LMS ids, anonymous ids and Django password hashes; clients
    /// their ids and secrets; live refresh and access tokens keep working. Running it again
    /// changes only what changed in the LMS since. A malformed row is reported by its position
    /// and skipped. Run it with `latchkey serve` stopped on SQLite: an import holds the write
    /// lock while it writes each batch (all of it with --strict or --dry-run).
    Openedx {
        /// The export: `manage.py lms dumpdata auth.user student oauth2_provider oauth_dispatch`
        file: PathBuf,
        /// Do everything in one transaction and roll it back: report what would change
        #[arg(long)]
        dry_run: bool,
        /// Stop at the first malformed row, before writing anything, and write in one
        /// transaction: all or nothing
        #[arg(long)]
        strict: bool,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
}

pub async fn run<S: Store>(
    cmd: ImportCommand,
    config: &Config,
    store: Arc<S>,
) -> anyhow::Result<()> {
    let ImportCommand::Openedx {
        file,
        dry_run,
        strict,
        json,
    } = cmd;
    let secrets = crate::secrets::load(config.secret_key.map(|k| k.0), &config.key_file)?;
    let scopes = ScopeRegistry::with_extra(&config.extra_scopes)
        .context("the configured `scopes` are not valid")?;
    let settings = Settings {
        now: now(),
        refresh_lifetime: config.tokens.refresh_lifetime,
        family_lifetime: config.tokens.refresh_family_lifetime,
        strict,
        dry_run,
    };
    let import = OpenEdxImport::new(store, secrets.hasher, scopes, settings);
    let mut progress = Bar::new();
    let summary = import
        .run(&file, &mut progress)
        .await
        .with_context(|| format!("cannot import {}", file.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{summary}");
    }
    Ok(())
}

/// Progress on stderr: a line redrawn in place on a terminal, else a plain line every tenth of
/// the file (a log keeps them all).
struct Bar {
    terminal: bool,
    pass: &'static str,
    total: u64,
    started: Instant,
    last_drawn: Option<Instant>,
    last_tenth: u64,
}

impl Bar {
    fn new() -> Self {
        Bar {
            terminal: std::io::stderr().is_terminal(),
            pass: "",
            total: 0,
            started: Instant::now(),
            last_drawn: None,
            last_tenth: 0,
        }
    }

    fn line(&self, read: u64) -> String {
        let percent = (read * 100).checked_div(self.total).unwrap_or(100);
        format!(
            "{}: {percent:>3} % ({} of {} MB, {:.1} s)",
            self.pass,
            read / 1_000_000,
            self.total / 1_000_000,
            self.started.elapsed().as_secs_f64()
        )
    }
}

impl Progress for Bar {
    fn pass(&mut self, name: &'static str, total_bytes: u64) {
        self.pass = name;
        self.total = total_bytes;
        self.started = Instant::now();
        self.last_drawn = None;
        self.last_tenth = 0;
    }

    fn advance(&mut self, read: u64) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let due = self
                .last_drawn
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
            if due {
                let _ = write!(err, "\r{}", self.line(read));
                self.last_drawn = Some(Instant::now());
            }
        } else {
            let tenth = (read * 10).checked_div(self.total).unwrap_or(10);
            if tenth > self.last_tenth {
                self.last_tenth = tenth;
                let _ = writeln!(err, "{}", self.line(read));
            }
        }
    }

    fn done(&mut self) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = writeln!(err, "\r{}", self.line(self.total));
        } else if self.last_tenth < 10 {
            let _ = writeln!(err, "{}", self.line(self.total));
        }
    }
}
