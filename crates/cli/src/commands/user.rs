//! `latchkey user ...`

use std::io::BufRead;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use latchkey_core::admin::UserSpec;
use latchkey_core::secret::Secret;
use latchkey_core::store::Store;
use latchkey_core::throttle::Counting;
use latchkey_core::user::User;
use latchkey_server::clock::now;

use crate::config::Config;
use crate::wiring;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        staff: bool,
        #[arg(long)]
        superuser: bool,
        /// The email address is not verified yet (tokens say email_verified: false)
        #[arg(long)]
        unverified: bool,
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: no sign-in, no token, no refresh; logged out everywhere
    Disable { username: String },
    /// Enable a disabled user
    Enable { username: String },
    /// End every session and refresh token of a user, and refuse the access tokens issued
    /// before now (at resource servers following the revocation feed too)
    LogoutEverywhere { username: String },
    /// Set a user's password, read from the first line of standard input; logs them out
    /// everywhere, as a password reset does
    SetPassword {
        username: String,
        /// Read the password from the first line of standard input (required)
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(serde::Serialize)]
struct UserView<'a> {
    id: i64,
    username: &'a str,
    email: &'a str,
    name: &'a str,
    sub: &'a str,
    email_verified: bool,
    disabled: bool,
    staff: bool,
    superuser: bool,
}

fn view(u: &User) -> UserView<'_> {
    UserView {
        id: u.id.0,
        username: &u.username,
        email: &u.email,
        name: &u.name,
        sub: &u.sub,
        email_verified: u.email_verified,
        disabled: u.disabled,
        staff: u.is_staff,
        superuser: u.is_superuser,
    }
}

pub async fn run<S: Store>(cmd: UserCommand, config: &Config, store: Arc<S>) -> anyhow::Result<()> {
    let admin = wiring::build(config, store, Counting::InProcess)
        .await?
        .admin;
    match cmd {
        UserCommand::Create {
            username,
            email,
            password_stdin,
            name,
            staff,
            superuser,
            unverified,
            json,
        } => {
            let password = if password_stdin {
                Some(password_from_stdin()?)
            } else {
                None
            };
            let given = username.clone();
            let user = admin
                .create_user(
                    UserSpec {
                        username,
                        email,
                        name,
                        password,
                        staff,
                        superuser,
                        unverified,
                        sub: None,
                    },
                    now(),
                )
                .await?;
            if user.username != given {
                // Said on stderr, so `--json` output stays one document.
                eprintln!(
                    "note: the username {given:?} is stored as {:?} (NFKC, as Django stores it)",
                    user.username
                );
            }
            if json {
                println!("{}", serde_json::to_string(&view(&user))?);
            } else {
                println!(
                    "created user {} (id {}, sub {})",
                    user.username, user.id.0, user.sub
                );
            }
        }
        UserCommand::Disable { username } => {
            admin.set_disabled(&username, true, now()).await?;
            println!("disabled user {username}");
        }
        UserCommand::Enable { username } => {
            admin.set_disabled(&username, false, now()).await?;
            println!("enabled user {username}");
        }
        UserCommand::LogoutEverywhere { username } => {
            admin.logout_everywhere(&username, now()).await?;
            println!("logged out user {username} everywhere");
        }
        UserCommand::SetPassword {
            username,
            password_stdin,
        } => {
            anyhow::ensure!(
                password_stdin,
                "set-password reads the password from standard input: pass --password-stdin"
            );
            let password = password_from_stdin()?;
            admin.set_password(&username, &password, now()).await?;
            println!("set the password of user {username}; logged out everywhere");
        }
        UserCommand::List { json } => {
            let users = admin.list_users().await?;
            if json {
                let views: Vec<_> = users.iter().map(view).collect();
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else {
                println!("{:<6} {:<24} {:<32} FLAGS", "ID", "USERNAME", "EMAIL");
                for u in &users {
                    let mut flags = Vec::new();
                    if u.disabled {
                        flags.push("disabled");
                    }
                    if !u.email_verified {
                        flags.push("unverified");
                    }
                    if u.is_staff {
                        flags.push("staff");
                    }
                    if u.is_superuser {
                        flags.push("superuser");
                    }
                    println!(
                        "{:<6} {:<24} {:<32} {}",
                        u.id.0,
                        u.username,
                        u.email,
                        flags.join(",")
                    );
                }
            }
        }
    }
    Ok(())
}

/// The first line of standard input, as a password: never an argument, which `ps` would show.
fn password_from_stdin() -> anyhow::Result<Secret> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(
        !line.is_empty(),
        "--password-stdin: standard input was empty"
    );
    Ok(Secret::new(line))
}
