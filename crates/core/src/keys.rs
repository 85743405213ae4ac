//! Signing keys: sealed in the database so every node signs with the same keys, published as a
//! JWKS, and rotated so that no verifier is ever surprised (see docs/design/key-rotation.md).

use std::sync::Arc;

use arc_swap::ArcSwap;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use latchkey_token::{Algorithm, JwkSet, SigningKey, VerifyingKeys};
use zeroize::Zeroizing;

use crate::random::Random;
use crate::store::{
    ClientStore, Conflict, KeyRevocation, KeyState, KeyStore, StoreError, StoredKey,
};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing key error: {0}")]
    Token(#[from] latchkey_token::TokenError),
    #[error("cannot open signing key {0}: wrong key-encryption key, or the row is damaged")]
    Unseal(String),
    #[error("cannot seal signing key")]
    Seal,
    #[error("cannot serialise the JWKS: {0}")]
    Publish(String),
    #[error("no current signing key in the database")]
    NoCurrentKey,
    #[error("no signing key {0}")]
    UnknownKey(String),
    #[error("the JWK cannot be imported: {0}")]
    Jwk(#[from] latchkey_token::PrivateJwkError),
    #[error("a key with kid {kid:?} is already in the ring ({state}); nothing was imported")]
    KidTaken { kid: String, state: String },
    #[error(
        "{0} is the current signing key: rotate first (`latchkey keys rotate --now` signs with a \
         new key at once), then revoke {0}"
    )]
    RevokeCurrent(String),
}

/// The key-encryption key (AES-256-GCM) that seals private signing keys at rest.
pub struct KeyEncryptionKey(LessSafeKey);

impl KeyEncryptionKey {
    pub fn new(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| KeyError::Seal)?;
        Ok(KeyEncryptionKey(LessSafeKey::new(key)))
    }

    /// `nonce || ciphertext || tag`, bound to `kid` so rows cannot be swapped.
    pub fn seal(&self, kid: &str, plain: &[u8], random: &dyn Random) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        random.fill(&mut nonce);
        let mut buf = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut buf,
            )
            .map_err(|_| KeyError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        buf.iter_mut().for_each(|b| *b = 0);
        Ok(out)
    }

    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let unseal = || KeyError::Unseal(kid.to_owned());
        if sealed.len() < NONCE_LEN {
            return Err(unseal());
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unseal())?;
        let mut buf = Zeroizing::new(body.to_vec());
        let plain_len = self
            .0
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buf)
            .map_err(|_| unseal())?
            .len();
        buf.truncate(plain_len);
        Ok(buf)
    }
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(<redacted>)")
    }
}

/// What the token endpoint signs with and what `/oauth2/jwks.json` serves, swapped atomically.
pub struct KeyRing {
    state: ArcSwap<RingState>,
}

pub struct RingState {
    pub signer: Arc<SigningKey>,
    /// The JWKS serialised once per change, not once per request.
    pub jwks_json: Arc<str>,
    pub verifying: VerifyingKeys,
}

impl KeyRing {
    pub fn current(&self) -> Arc<RingState> {
        self.state.load_full()
    }

    pub fn signer(&self) -> Arc<SigningKey> {
        self.state.load().signer.clone()
    }

    /// Swaps in `state`; true when a key trusted until now is no longer trusted.
    fn replace(&self, state: RingState) -> bool {
        let new = Arc::new(state);
        let old = self.state.swap(new.clone());
        let withdrawn = old.verifying.kids().any(|kid| !new.verifying.contains(kid));
        withdrawn
    }
}

/// What a rotation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// This key now signs.
    Promoted(KeyInfo),
    /// This key is published as `next`; rotating again makes it sign.
    Staged(KeyInfo),
}

/// What a revocation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    Revoked(KeyInfo),
    /// It was revoked before; nothing changed.
    AlreadyRevoked(KeyInfo),
}

/// Where an imported key goes in the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportAs {
    /// Published at once and signing after the next rotation; a `next` key of the same algorithm
    /// that Latchkey made is revoked (it has never signed), so that rotation promotes this one.
    Next,
    /// Signing at once; the current key retires (published until its tokens have expired).
    Current,
}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    pub key: KeyInfo,
    /// `next` keys set aside so that the imported one is the next to sign.
    pub replaced_next: Vec<KeyInfo>,
}

/// How long a retired key stays published: until every token it can have signed has expired.
#[derive(Clone, Copy, Debug)]
pub struct KeyRetention {
    /// The longest JWT lifetime the settings allow: `tokens.jwt_lifetime` and
    /// `tokens.service_jwt_max_lifetime`. Per-client overrides are read from the store.
    pub max_jwt_lifetime: i64,
    /// How often running servers reload the keys, in seconds: a server signs with a retired key
    /// until its next reload.
    pub reload_interval: i64,
}

/// A key as the CLI and admin API list it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub state: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// Loads, creates and rotates signing keys.
pub struct KeyManager<S> {
    store: Arc<S>,
    kek: KeyEncryptionKey,
    random: Arc<dyn Random>,
    /// Held from a reload's read to its swap: two reloads at once (the janitor's and a change
    /// notice's) could otherwise swap in the order opposite to their reads, the older keys last,
    /// and a revoked key would stay trusted until the next reload.
    reloading: tokio::sync::Mutex<()>,
}

impl<S: KeyStore> KeyManager<S> {
    pub fn new(store: Arc<S>, kek: KeyEncryptionKey, random: Arc<dyn Random>) -> Self {
        KeyManager {
            store,
            kek,
            random,
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// Makes sure a current key exists (on first start an RS512 key, plus the RS512 `next` key the
    /// first rotation will promote), then builds the ring.
    pub async fn load_ring(&self, now: i64) -> Result<KeyRing, KeyError> {
        if !self.has_current().await? {
            self.create(Algorithm::RS512, KeyState::Current, now)
                .await?;
            if !self.has_next(Algorithm::RS512).await? {
                self.create(Algorithm::RS512, KeyState::Next, now).await?;
            }
        }
        let state = self.build_state().await?;
        Ok(KeyRing {
            state: ArcSwap::from_pointee(state),
        })
    }

    /// Re-reads the keys (after a rotation or revocation elsewhere) and swaps them into `ring`.
    /// True when a key `ring` trusted is no longer trusted (revoked or forgotten), so that answers
    /// cached while it was can be dropped.
    pub async fn reload(&self, ring: &KeyRing) -> Result<bool, KeyError> {
        let _turn = self.reloading.lock().await;
        Ok(ring.replace(self.build_state().await?))
    }

    /// Rotates to a key of `alg`. A key is only promoted once it has been published as `next`, so
    /// verifiers that cache the JWKS know it before it signs: when a `next` key of `alg` exists it
    /// becomes current (the old one retires) and a fresh `next` key is published; otherwise a `next`
    /// key of `alg` is published and the rotation is [`Rotation::Staged`], to be completed by rotating
    /// again once verifiers have refreshed. `immediately` promotes a new key at once, for when the
    /// current key must stop signing now (e.g. it leaked).
    pub async fn rotate(
        &self,
        alg: Algorithm,
        immediately: bool,
        now: i64,
    ) -> Result<Rotation, KeyError> {
        let next = self
            .store
            .signing_keys()
            .await?
            .into_iter()
            .find(|k| k.state == KeyState::Next && k.alg == alg)
            .map(|k| k.kid);
        let promoted = match (next, immediately) {
            (Some(kid), _) => kid,
            (None, true) => self.create(alg, KeyState::Next, now).await?.kid,
            (None, false) => {
                let staged = self.create(alg, KeyState::Next, now).await?.kid;
                tracing::info!(target: "audit", kid = %staged, %alg, "signing key published as next");
                return Ok(Rotation::Staged(self.info(&staged).await?));
            }
        };
        self.store.promote_key(&promoted, now).await?;
        self.create(alg, KeyState::Next, now).await?;
        tracing::info!(target: "audit", kid = %promoted, %alg, "signing key rotated");
        Ok(Rotation::Promoted(self.info(&promoted).await?))
    }

    /// Takes on a signing key from elsewhere, given as an RSA private JWK (Open edX's
    /// `JWT_PRIVATE_SIGNING_JWK`), under its own `kid`, sealed like every key. Verifiers that pin
    /// the LMS's public key set keep verifying what Latchkey signs with it.
    pub async fn import_jwk(
        &self,
        jwk: &str,
        place: ImportAs,
        now: i64,
    ) -> Result<Imported, KeyError> {
        let key = SigningKey::from_private_jwk(jwk, Algorithm::RS512)?;
        let existing = self.store.signing_keys().await?;
        if let Some(taken) = existing.iter().find(|k| k.kid == key.kid()) {
            return Err(KeyError::KidTaken {
                kid: taken.kid.clone(),
                state: taken.state.as_str().to_owned(),
            });
        }
        let mut replaced_next = Vec::new();
        if place == ImportAs::Next {
            // Revoked before the insert: a failure in between leaves no `next` key, which the
            // next rotation makes, rather than two, of which it would promote the older.
            for spare in existing
                .iter()
                .filter(|k| k.state == KeyState::Next && k.alg == key.algorithm())
            {
                self.store.revoke_key(&spare.kid, now).await?;
                replaced_next.push(self.info(&spare.kid).await?);
            }
        }
        let pkcs8 = key.to_pkcs8()?;
        let stored = StoredKey {
            kid: key.kid().to_owned(),
            alg: key.algorithm(),
            state: KeyState::Next,
            sealed_private: self.kek.seal(key.kid(), &pkcs8, self.random.as_ref())?,
            created_at: now,
            retired_at: None,
        };
        self.store.insert_key(&stored).await?;
        if place == ImportAs::Current {
            self.store.promote_key(key.kid(), now).await?;
        }
        tracing::info!(target: "audit", kid = %key.kid(), alg = %key.algorithm(), ?place,
            "signing key imported");
        Ok(Imported {
            key: self.info(key.kid()).await?,
            replaced_next,
        })
    }

    /// The public keys a verifier may pin: what `/oauth2/jwks.json` serves (next, current and
    /// retired keys not yet forgotten).
    pub async fn public_jwks(&self) -> Result<Arc<str>, KeyError> {
        Ok(self.build_state().await?.jwks_json)
    }

    async fn info(&self, kid: &str) -> Result<KeyInfo, KeyError> {
        self.list()
            .await?
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| KeyError::UnknownKey(kid.to_owned()))
    }

    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        Ok(self
            .store
            .signing_keys()
            .await?
            .into_iter()
            .map(|k| KeyInfo {
                kid: k.kid,
                alg: k.alg.to_string(),
                state: k.state.as_str().to_owned(),
                created_at: k.created_at,
                retired_at: k.retired_at,
            })
            .collect())
    }

    /// Withdraws a leaked key at once: it leaves the JWKS, and tokens it signed stop verifying on
    /// every server at its next key reload. The current key is refused: something must sign, and
    /// which key takes over is the operator's choice (`rotate`), not a side effect of this one.
    pub async fn revoke(&self, kid: &str, now: i64) -> Result<Revocation, KeyError> {
        match self.store.revoke_key(kid, now).await? {
            KeyRevocation::Revoked => {
                tracing::warn!(target: "audit", %kid, "signing key revoked");
                Ok(Revocation::Revoked(self.info(kid).await?))
            }
            KeyRevocation::AlreadyRevoked => Ok(Revocation::AlreadyRevoked(self.info(kid).await?)),
            KeyRevocation::Current => Err(KeyError::RevokeCurrent(kid.to_owned())),
            KeyRevocation::Unknown => Err(KeyError::UnknownKey(kid.to_owned())),
        }
    }

    async fn has_current(&self) -> Result<bool, KeyError> {
        Ok(self
            .store
            .signing_keys()
            .await?
            .iter()
            .any(|k| k.state == KeyState::Current))
    }

    async fn has_next(&self, alg: Algorithm) -> Result<bool, KeyError> {
        Ok(self
            .store
            .signing_keys()
            .await?
            .iter()
            .any(|k| k.state == KeyState::Next && k.alg == alg))
    }

    async fn create(
        &self,
        alg: Algorithm,
        state: KeyState,
        now: i64,
    ) -> Result<StoredKey, KeyError> {
        let key = SigningKey::generate(alg)?;
        let pkcs8 = key.to_pkcs8()?;
        let stored = StoredKey {
            kid: key.kid().to_owned(),
            alg,
            state,
            sealed_private: self.kek.seal(key.kid(), &pkcs8, self.random.as_ref())?,
            created_at: now,
            retired_at: None,
        };
        match self.store.insert_key(&stored).await {
            // Two nodes starting on an empty database at once: the other one's key wins.
            Err(StoreError::Conflict(Conflict::CurrentKey)) => Ok(stored),
            other => other.map(|()| stored).map_err(KeyError::from),
        }
    }

    async fn build_state(&self) -> Result<RingState, KeyError> {
        let mut signer = None;
        let mut published = Vec::new();
        for stored in self.store.signing_keys().await? {
            // Its private part is gone; it must neither sign nor verify again.
            if stored.state == KeyState::Revoked {
                continue;
            }
            let pkcs8 = self.kek.open(&stored.kid, &stored.sealed_private)?;
            // An imported key keeps the kid its verifiers know; Latchkey's own are thumbprints.
            let key = SigningKey::from_pkcs8(stored.alg, &pkcs8)?.with_kid(stored.kid.clone())?;
            published.push(key.public_jwk());
            if stored.state == KeyState::Current {
                signer = Some(Arc::new(key));
            }
        }
        let signer = signer.ok_or(KeyError::NoCurrentKey)?;
        let jwks = JwkSet { keys: published };
        let jwks_json: Arc<str> = serde_json::to_string(&jwks)
            .map_err(|e| KeyError::Publish(e.to_string()))?
            .into();
        let verifying = VerifyingKeys::from_jwk_set(&jwks)?;
        Ok(RingState {
            signer,
            jwks_json,
            verifying,
        })
    }
}

/// Forgetting retired keys needs the clients too: their own JWT lifetimes may be the longest.
impl<S: KeyStore + ClientStore> KeyManager<S> {
    /// Deletes retired keys whose every token has expired. A server may sign with a key until its
    /// reload after the retirement, and then with the longest lifetime of any client; the reload
    /// interval is counted twice, since a reload comes after a sweep that may run late (missed
    /// ticks are delayed, not skipped) and the node that retired the key may have another clock.
    pub async fn forget_retired(&self, now: i64, retention: KeyRetention) -> Result<u64, KeyError> {
        let clients = self.store.max_client_jwt_lifetime().await?.unwrap_or(0);
        let keep = retention
            .max_jwt_lifetime
            .max(clients)
            .saturating_add(retention.reload_interval.saturating_mul(2));
        Ok(self
            .store
            .delete_keys_retired_before(now.saturating_sub(keep))
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;
    use std::sync::Mutex;
    use tokio::sync::{oneshot, Notify};

    /// Keys in memory, whose next read can be held: the keys are read at once, and given only
    /// when the test lets them go.
    #[derive(Default)]
    struct HeldKeys {
        keys: Mutex<Vec<StoredKey>>,
        hold: Mutex<Option<oneshot::Receiver<()>>>,
        read: Notify,
    }

    #[async_trait::async_trait]
    impl KeyStore for HeldKeys {
        async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
            let keys = self.keys.lock().unwrap().clone();
            let held = self.hold.lock().unwrap().take();
            if let Some(released) = held {
                self.read.notify_one();
                let _ = released.await;
            }
            Ok(keys)
        }
        async fn insert_key(&self, key: &StoredKey) -> Result<(), StoreError> {
            self.keys.lock().unwrap().push(key.clone());
            Ok(())
        }
        async fn promote_key(&self, _: &str, _: i64) -> Result<(), StoreError> {
            unreachable!("not promoted here")
        }
        async fn revoke_key(&self, kid: &str, now: i64) -> Result<KeyRevocation, StoreError> {
            let mut keys = self.keys.lock().unwrap();
            let key = keys.iter_mut().find(|k| k.kid == kid).unwrap();
            key.state = KeyState::Revoked;
            key.retired_at = Some(now);
            Ok(KeyRevocation::Revoked)
        }
        async fn delete_keys_retired_before(&self, _: i64) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    /// The janitor's reload and a change notice's at once: the one that read the keys before a
    /// revocation must not swap them in after the one that read them since.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reloads_at_once_never_bring_back_a_revoked_key() {
        let store = Arc::new(HeldKeys::default());
        let kek = KeyEncryptionKey::new(&[7; 32]).unwrap();
        let keys = Arc::new(KeyManager::new(store.clone(), kek, Arc::new(OsRandom)));
        keys.create(Algorithm::EdDSA, KeyState::Current, 0)
            .await
            .unwrap();
        let next = keys
            .create(Algorithm::EdDSA, KeyState::Next, 0)
            .await
            .unwrap()
            .kid;
        let ring = Arc::new(keys.load_ring(0).await.unwrap());
        assert!(ring.current().verifying.contains(&next));

        let (release, held) = oneshot::channel();
        *store.hold.lock().unwrap() = Some(held);
        let reload = || {
            let (keys, ring) = (keys.clone(), ring.clone());
            tokio::spawn(async move { keys.reload(&ring).await.unwrap() })
        };
        let early = reload();
        store.read.notified().await;
        store.revoke_key(&next, 1).await.unwrap();
        let late = reload();
        // Time for the late reload to finish first, if nothing keeps it from doing so.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        release.send(()).unwrap();
        early.await.unwrap();
        late.await.unwrap();
        assert!(
            !ring.current().verifying.contains(&next),
            "the revoked key is trusted again"
        );
    }

    #[test]
    fn sealed_keys_open_only_with_the_same_kek_and_kid() {
        let kek = KeyEncryptionKey::new(&[7; 32]).unwrap();
        let sealed = kek.seal("kid-1", b"private", &OsRandom).unwrap();
        assert_eq!(kek.open("kid-1", &sealed).unwrap().as_slice(), b"private");
        assert!(kek.open("kid-2", &sealed).is_err());
        let other = KeyEncryptionKey::new(&[8; 32]).unwrap();
        assert!(other.open("kid-1", &sealed).is_err());
        assert!(kek.open("kid-1", &sealed[..5]).is_err());
    }
}
