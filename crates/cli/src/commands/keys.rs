//! `latchkey keys ...`

use std::sync::Arc;

use clap::Subcommand;
use latchkey_core::keys::{Revocation, Rotation};
use latchkey_core::store::Store;
use latchkey_server::clock::now;
use latchkey_token::Algorithm;

use crate::config::Config;
use crate::wiring;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List signing keys and their states (next, current, retired, revoked)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Retire the current key and start signing with a new one
    Rotate {
        /// RS512 (the default, what Open edX verifiers expect), RS256, ES256 or EdDSA
        #[arg(long, default_value = "RS512")]
        alg: Algorithm,
        /// Sign with a new key at once, even though verifiers have not seen it yet (key leaked)
        #[arg(long)]
        now: bool,
    },
    /// Withdraw a leaked key: it leaves the JWKS and tokens signed with it stop verifying
    ///
    /// Running servers stop trusting it within one janitor interval; verifiers that cached the
    /// JWKS, until they fetch it again (it is served with max-age=300). Its private part is
    /// erased; the row stays, as a record. The current key cannot be revoked: rotate first
    /// (`latchkey keys rotate --now`), then revoke it.
    Revoke {
        /// The key's id, as `latchkey keys list` shows it
        kid: String,
    },
}

pub async fn run<S: Store>(cmd: KeysCommand, config: &Config, store: Arc<S>) -> anyhow::Result<()> {
    let keys = wiring::build(config, store).await?.keys;
    match cmd {
        KeysCommand::List { json } => {
            let list = keys.list().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!("{:<45} {:<6} {:<8} CREATED", "KID", "ALG", "STATE");
                for k in list {
                    println!("{:<45} {:<6} {:<8} {}", k.kid, k.alg, k.state, k.created_at);
                }
            }
        }
        KeysCommand::Rotate {
            alg,
            now: immediately,
        } => match keys.rotate(alg, immediately, now()).await? {
            Rotation::Promoted(key) => println!(
                "now signing with {} ({}); running servers switch within one janitor interval",
                key.kid, key.alg
            ),
            Rotation::Staged(key) => println!(
                "published {} ({}) as the next key; it signs after the next rotation, once \
                 verifiers have refreshed their JWKS (it is cached for up to 5 minutes)",
                key.kid, key.alg
            ),
        },
        KeysCommand::Revoke { kid } => match keys.revoke(&kid, now()).await? {
            Revocation::Revoked(key) => println!(
                "revoked {} ({}): it is no longer published, and tokens signed with it no longer \
                 verify. Running servers stop trusting it within one janitor interval ({} s); \
                 verifiers that cached the JWKS trust it until they fetch it again (it is served \
                 with max-age=300)",
                key.kid,
                key.alg,
                config.janitor_interval.as_secs()
            ),
            Revocation::AlreadyRevoked(key) => {
                println!("{} ({}) was already revoked", key.kid, key.alg);
            }
        },
    }
    Ok(())
}
