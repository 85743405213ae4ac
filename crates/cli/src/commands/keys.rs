//! `latchkey keys ...`

use std::sync::Arc;

use clap::Subcommand;
use latchkey_core::keys::{ImportAs, Revocation, Rotation};
use latchkey_core::store::Store;
use latchkey_core::throttle::Counting;
use latchkey_server::clock::now;
use latchkey_token::Algorithm;

use crate::config::Config;
use crate::wiring;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List signing keys and their states (next, current, retired, revoked)
    List {
        #[arg(long, conflicts_with = "jwks")]
        json: bool,
        /// Print the public JWK Set instead, as verifiers pin it (Open edX services'
        /// JWT_PUBLIC_SIGNING_JWK_SET): the same keys `/oauth2/jwks.json` serves
        #[arg(long)]
        jwks: bool,
    },
    /// Take on a signing key from an Open edX LMS (its JWT_PRIVATE_SIGNING_JWK), so that services
    /// that pin the LMS's public key set keep verifying what Latchkey signs
    ///
    /// The key is an RSA private JWK with its `kid`; it signs with its `alg`, else RS512 (what
    /// Open edX signs with). It is sealed like every key. By default it is published as the next
    /// key (a spare next key Latchkey made is revoked) and signs after `latchkey keys rotate`;
    /// `--current` makes it sign at once.
    Import {
        /// The JWK file, or `-` for standard input
        #[arg(long, value_name = "FILE")]
        jwk: std::path::PathBuf,
        /// Sign with it at once (the current key retires)
        #[arg(long)]
        current: bool,
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
    let keys = wiring::build(config, store, Counting::InProcess)
        .await?
        .keys;
    match cmd {
        KeysCommand::List { jwks: true, .. } => println!("{}", keys.public_jwks().await?),
        KeysCommand::List { json, .. } => {
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
        KeysCommand::Import { jwk, current } => {
            let text = read_jwk(&jwk)?;
            let place = if current {
                ImportAs::Current
            } else {
                ImportAs::Next
            };
            let imported = keys.import_jwk(&text, place, now()).await?;
            for spare in &imported.replaced_next {
                println!(
                    "revoked {} ({}), the next key Latchkey had made: the imported key signs \
                     after the next rotation instead",
                    spare.kid, spare.alg
                );
            }
            let key = &imported.key;
            match place {
                ImportAs::Current => println!(
                    "imported {} ({}) and signing with it now; running servers switch within one \
                     janitor interval",
                    key.kid, key.alg
                ),
                ImportAs::Next => println!(
                    "imported {} ({}) as the next key: it is published now and signs after \
                     `latchkey keys rotate`",
                    key.kid, key.alg
                ),
            }
        }
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

/// The JWK text from `path`, or from standard input for `-`.
fn read_jwk(path: &std::path::Path) -> anyhow::Result<String> {
    use anyhow::Context as _;
    if path.as_os_str() == "-" {
        return std::io::read_to_string(std::io::stdin()).context("cannot read the JWK from stdin");
    }
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the JWK file {}", path.display()))
}
