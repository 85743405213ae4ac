//! The successor pair of a rotated refresh token, kept for the grace window so that a racing
//! second refresh gets the very same pair. It is sealed under a key derived from the presented
//! refresh token *and* the server's token-hashing key: the database holds neither, so a dump plus
//! an old refresh token (from a phone's backup, a log) opens nothing. The sealed pair is also
//! cleared once the grace window ends (by the janitor) and when the successor itself is rotated,
//! so a dump holds no chain of sealed pairs leading to the live token.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use zeroize::Zeroizing;

use crate::error::{InternalError, OAuthError};
use crate::random::Random;
use crate::request::AccessFormat;
use crate::secret::{Secret, SecretHasher};
use crate::tokens::Issued;

#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    access_token: String,
    format: AccessFormat,
    expires_in: i64,
    scopes: Vec<String>,
    refresh_token: String,
}

fn key_for(hasher: &SecretHasher, presented: &Secret) -> Result<LessSafeKey, OAuthError> {
    let key = hasher.derive_key("latchkey refresh successor v2", presented.expose());
    let unbound = UnboundKey::new(&AES_256_GCM, key.as_ref())
        .map_err(|_| OAuthError::Internal(InternalError::Successor))?;
    Ok(LessSafeKey::new(unbound))
}

pub(crate) fn seal(
    hasher: &SecretHasher,
    presented: &Secret,
    pair: &Issued,
    random: &dyn Random,
) -> Result<Vec<u8>, OAuthError> {
    let fail = || OAuthError::Internal(InternalError::Successor);
    let body = Sealed {
        access_token: pair.access_token.expose().to_owned(),
        format: pair.format,
        expires_in: pair.expires_in,
        scopes: pair.scopes.clone(),
        refresh_token: pair
            .refresh_token
            .as_ref()
            .map(|s| s.expose().to_owned())
            .unwrap_or_default(),
    };
    let mut buf = Zeroizing::new(serde_json::to_vec(&body).map_err(|_| fail())?);
    let mut nonce = [0u8; NONCE_LEN];
    random.fill(&mut nonce);
    key_for(hasher, presented)?
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut *buf)
        .map_err(|_| fail())?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    Ok(out)
}

pub(crate) fn open(
    hasher: &SecretHasher,
    presented: &Secret,
    sealed: &[u8],
) -> Result<Issued, OAuthError> {
    let fail = || OAuthError::Internal(InternalError::Successor);
    if sealed.len() < NONCE_LEN {
        return Err(fail());
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
    let mut buf = Zeroizing::new(body.to_vec());
    let plain = key_for(hasher, presented)?
        .open_in_place(nonce, Aad::empty(), &mut buf)
        .map_err(|_| fail())?;
    let body: Sealed = serde_json::from_slice(plain).map_err(|_| fail())?;
    Ok(Issued {
        access_token: Secret::new(body.access_token),
        format: body.format,
        expires_in: body.expires_in,
        scopes: body.scopes,
        refresh_token: Some(Secret::new(body.refresh_token)),
        id_token: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    fn pair() -> Issued {
        Issued {
            access_token: Secret::new("access"),
            format: AccessFormat::Jwt,
            expires_in: 60,
            scopes: vec!["read".into()],
            refresh_token: Some(Secret::new("next refresh")),
            id_token: None,
        }
    }

    #[test]
    fn the_presented_token_alone_does_not_open_the_successor() {
        let server = SecretHasher::new(&[7; 32]);
        let presented = Secret::new("old refresh token");
        let sealed = seal(&server, &presented, &pair(), &OsRandom).unwrap();
        let opened = open(&server, &presented, &sealed).unwrap();
        assert_eq!(opened.refresh_token.unwrap().expose(), "next refresh");
        // An attacker with the row and the old token but another (guessed) server key:
        let guessed = SecretHasher::new(&[0; 32]);
        assert!(open(&guessed, &presented, &sealed).is_err());
        assert!(open(&server, &Secret::new("another token"), &sealed).is_err());
    }
}
