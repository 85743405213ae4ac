//! `latchkey authz ...`: Open edX AuthZ role assignments, checks and imports, on the configured
//! database. A running server sees a change at its janitor's next pass.

use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use latchkey_authz::{Decision, Grant, Refusal};
use latchkey_core::authz::import::{parse_import, ImportFormat};
use latchkey_core::authz::rule::RoleAssignment;
use latchkey_core::authz::AssignmentFilter;
use latchkey_core::store::Store;
use latchkey_core::throttle::Counting;
use latchkey_server::clock::now;

use crate::config::Config;
use crate::wiring;

#[derive(Subcommand)]
pub enum AuthzCommand {
    /// Assign ROLE to SUBJECT in SCOPE (e.g. user^alice role^library_admin lib^lib:MITx:physics;
    /// SCOPE * for every scope)
    Assign {
        subject: String,
        role: String,
        scope: String,
    },
    /// Remove an assignment (fails if there is none)
    Unassign {
        subject: String,
        role: String,
        scope: String,
    },
    /// List role assignments
    List {
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print "allowed" or "denied" for SUBJECT doing ACTION in SCOPE (exit 0 either way)
    Check {
        subject: String,
        action: String,
        scope: String,
        /// Also print why
        #[arg(long)]
        explain: bool,
    },
    /// Print the scopes where SUBJECT holds ACTION through its roles
    Scopes {
        subject: String,
        action: String,
        #[arg(long)]
        json: bool,
    },
    /// Add the rules of FILE: a casbin policy file (lines `p, ...`, `g, ...`, `g2, ...`) or a CSV
    /// export of Open edX's casbin_rule table (header `id,ptype,v0,...`)
    Import { file: std::path::PathBuf },
}

/// Who the audit trail names for changes made here.
fn actor() -> String {
    match std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        Ok(user) if !user.is_empty() => format!("cli:{user}"),
        _ => "cli".to_owned(),
    }
}

pub async fn run<S: Store>(
    cmd: AuthzCommand,
    config: &Config,
    store: Arc<S>,
) -> anyhow::Result<()> {
    let authz = wiring::build(config, store, Counting::InProcess)
        .await?
        .authz;
    match cmd {
        AuthzCommand::Assign {
            subject,
            role,
            scope,
        } => {
            let a = RoleAssignment::new(&subject, &role, &scope)?;
            if authz.assign(&a, &actor(), now()).await? {
                println!("assigned {role} to {subject} in {scope}");
            } else {
                println!("{subject} already has {role} in {scope}; nothing changed");
            }
        }
        AuthzCommand::Unassign {
            subject,
            role,
            scope,
        } => {
            let a = RoleAssignment::new(&subject, &role, &scope)?;
            anyhow::ensure!(
                authz.unassign(&a, &actor(), now()).await?,
                "{subject} has no assignment of {role} in {scope}; nothing changed"
            );
            println!("removed {role} from {subject} in {scope}");
        }
        AuthzCommand::List {
            subject,
            role,
            scope,
            json,
        } => {
            let filter = AssignmentFilter {
                subject,
                role,
                scope,
            };
            let found = authz.assignments(&filter).await?;
            if json {
                let views: Vec<_> = found
                    .iter()
                    .map(|a| {
                        serde_json::json!({"subject": a.subject, "role": a.role, "scope": a.scope})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else {
                println!("{:<32} {:<32} SCOPE", "SUBJECT", "ROLE");
                for a in &found {
                    println!("{:<32} {:<32} {}", a.subject, a.role, a.scope);
                }
            }
        }
        AuthzCommand::Check {
            subject,
            action,
            scope,
            explain,
        } => {
            let decision = authz.check(&subject, &action, &scope)?;
            let word = if decision.is_allowed() {
                "allowed"
            } else {
                "denied"
            };
            if explain {
                println!("{word}: {}", why(decision));
            } else {
                println!("{word}");
            }
        }
        AuthzCommand::Scopes {
            subject,
            action,
            json,
        } => {
            let found = authz.scopes_for(&subject, &action)?;
            if json {
                let view = serde_json::json!({"scopes": found.scopes, "staff": found.staff});
                println!("{view}");
            } else {
                for scope in &found.scopes {
                    println!("{scope}");
                }
                if found.staff {
                    eprintln!(
                        "note: {subject} is staff or superuser: also every lib^ and course-v1^ \
                         scope where no deny line applies"
                    );
                }
            }
        }
        AuthzCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let (format, rows) =
                parse_import(&text).with_context(|| format!("cannot import {}", file.display()))?;
            let imported = authz.import_rows(&rows, &actor(), now()).await?;
            let kind = match format {
                ImportFormat::PolicyCsv => "casbin policy file",
                ImportFormat::CasbinRuleCsv => "casbin_rule export",
            };
            println!(
                "added {} rules from {} ({kind}); {} were already present",
                imported.added,
                file.display(),
                imported.present
            );
        }
    }
    Ok(())
}

fn why(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow(Grant::Role) => "a role the subject holds allows it",
        Decision::Allow(Grant::StaffBypass) => "the subject is staff or superuser",
        Decision::Deny(Refusal::NoGrant) => "no role the subject holds allows it",
        Decision::Deny(Refusal::DenyRule) => "a deny line applies",
        Decision::Deny(Refusal::StaffDenyParity) => {
            "staff_deny_parity: the policy has a deny line (upstream behaviour)"
        }
    }
}
