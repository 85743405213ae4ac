//! The installation's master secret, from `secret_key` or a key file made (mode 0600) on first
//! start. Two keys are derived from it: one seals private signing keys, one hashes tokens and
//! client secrets. Every node of an installation needs the same master secret.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use aws_lc_rs::hmac;
use latchkey_core::keys::KeyEncryptionKey;
use latchkey_core::random::{OsRandom, Random};
use latchkey_core::secret::SecretHasher;

pub struct DerivedKeys {
    pub kek: KeyEncryptionKey,
    pub hasher: SecretHasher,
}

pub fn load(configured: Option<[u8; 32]>, key_file: &Path) -> anyhow::Result<DerivedKeys> {
    let master = match configured {
        Some(k) => k,
        None => read_or_create(key_file)?,
    };
    let derive = |label: &[u8]| {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &master), label);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    };
    Ok(DerivedKeys {
        kek: KeyEncryptionKey::new(&derive(b"latchkey key-encryption v1"))?,
        hasher: SecretHasher::new(&derive(b"latchkey secret-hash v1")),
    })
}

fn read_or_create(path: &Path) -> anyhow::Result<[u8; 32]> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .with_context(|| {
                    format!(
                        "key file {} must hold 64 hexadecimal characters",
                        path.display()
                    )
                })?;
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            OsRandom.fill(&mut key);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options
                .open(path)
                .with_context(|| format!("cannot create key file {}", path.display()))?;
            file.write_all(hex::encode(key).as_bytes())?;
            tracing::info!(path = %path.display(), "created a new master key file; back it up");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read key file {}", path.display())),
    }
}
