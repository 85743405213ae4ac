//! `latchkey token mint`: a short-lived service JWT for a user, with no stored row.

use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use latchkey_core::store::Store;
use latchkey_core::throttle::Counting;
use latchkey_server::clock::now;

use crate::commands::list;
use crate::config::Config;
use crate::wiring;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Print a service JWT for USERNAME (marked token_use: service)
    Mint {
        username: String,
        /// Default: "email,profile"
        #[arg(long)]
        scopes: Option<String>,
        #[arg(long)]
        audience: Option<String>,
        #[arg(long, default_value_t = 300)]
        lifetime: i64,
    },
}

pub async fn run<S: Store>(
    cmd: TokenCommand,
    config: &Config,
    store: Arc<S>,
) -> anyhow::Result<()> {
    let services = wiring::build(config, store.clone(), Counting::InProcess).await?;
    let TokenCommand::Mint {
        username,
        scopes,
        audience,
        lifetime,
    } = cmd;
    let user = store
        .user_by_login(&username)
        .await?
        .filter(|u| u.username == username)
        .with_context(|| format!("no user named {username:?}"))?;
    let scopes = scopes.map(|s| list(Some(&s)));
    let jwt = services
        .tokens
        .mint_service_jwt(&user, scopes, audience, lifetime, now())?;
    println!("{jwt}");
    Ok(())
}
