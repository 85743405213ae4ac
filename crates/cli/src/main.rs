//! `latchkey`: the one binary. Every command opens the configured database (SQLite by default,
//! created on first use), runs, and exits 0 on success, 1 on a failure the user can fix (the
//! message names it), 2 on bad usage.

mod commands;
mod config;
mod secrets;
mod wiring;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use latchkey_core::store::Store;
use latchkey_core::throttle::Counting;
use latchkey_store::Backend;

use crate::config::{Config, Flags};

/// mimalloc instead of glibc's malloc: a token request allocates and frees a few dozen small
/// strings, and glibc's malloc/free were about 9 % of the server's CPU under load (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "latchkey",
    version,
    about = "An OAuth2 authorization server for API platforms"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct GlobalArgs {
    /// TOML configuration file (also LATCHKEY_CONFIG)
    #[arg(long, global = true, env = "LATCHKEY_CONFIG")]
    config: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://latchkey.db]
    #[arg(long, global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server
    Serve {
        /// Address to listen on [default: 127.0.0.1:8000]
        #[arg(long)]
        listen: Option<String>,
        /// Issuer URL put in every token [default: http://127.0.0.1:8000/oauth2]
        #[arg(long)]
        issuer: Option<String>,
    },
    /// Apply database migrations and exit
    Migrate,
    /// Manage users
    #[command(subcommand)]
    User(commands::user::UserCommand),
    /// Manage OAuth2 clients
    #[command(subcommand)]
    Client(commands::client::ClientCommand),
    /// Manage signing keys
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Mint tokens
    #[command(subcommand)]
    Token(commands::token::TokenCommand),
    /// Open edX AuthZ: role assignments, checks, imports
    #[command(subcommand)]
    Authz(commands::authz::AuthzCommand),
    /// Import another installation's users, clients and tokens
    #[command(subcommand)]
    Import(commands::import::ImportCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut flags = Flags {
        database_url: cli.global.database_url.clone(),
        ..Flags::default()
    };
    if let Command::Serve { listen, issuer } = &cli.command {
        flags.listen = listen.clone();
        flags.issuer = issuer.clone();
    }
    let config = Config::load(cli.global.config.as_deref(), flags)?;
    init_logging(&config, matches!(cli.command, Command::Serve { .. }));
    let where_ = || {
        format!(
            "cannot open the database (setting `database_url` = {})",
            latchkey_store::redact(&config.database_url)
        )
    };
    let backend = latchkey_store::connect(&config.database_url)
        .await
        .with_context(where_)?;
    let applied = backend.migrate().await.with_context(where_)?;
    if matches!(cli.command, Command::Migrate) {
        for migration in &applied {
            println!("applied {migration}");
        }
        if applied.is_empty() {
            println!("nothing to apply");
        }
    }
    match backend {
        Backend::Sqlite(store) => {
            dispatch(cli.command, config, Arc::new(store), Counting::InProcess).await
        }
        // Nodes on one PostgreSQL database count password attempts in it, together.
        Backend::Postgres(store) => {
            let store = Arc::new(store);
            let counting = Counting::Shared(store.clone());
            dispatch(cli.command, config, store, counting).await
        }
    }
}

/// `counting` is for `serve`: the other commands sign no one in.
async fn dispatch<S: Store>(
    command: Command,
    config: Config,
    store: Arc<S>,
    counting: Counting,
) -> anyhow::Result<()> {
    match command {
        Command::Migrate => {
            println!(
                "database is migrated: {}",
                latchkey_store::redact(&config.database_url)
            );
            Ok(())
        }
        Command::Serve { .. } => commands::serve::run(config, store, counting).await,
        Command::User(c) => commands::user::run(c, &config, store).await,
        Command::Client(c) => commands::client::run(c, &config, store).await,
        Command::Keys(c) => commands::keys::run(c, &config, store).await,
        Command::Token(c) => commands::token::run(c, &config, store).await,
        Command::Authz(c) => commands::authz::run(c, &config, store).await,
        Command::Import(c) => commands::import::run(c, &config, store).await,
    }
}

fn init_logging(config: &Config, serving: bool) {
    // Commands print their results; only the server logs at info by default.
    let default = if serving { config.log.as_str() } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal: in a file or a log collector they are noise
        // that breaks searching.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
