//! The successor pair of a rotated refresh token, kept for the grace window so that a racing
//! second refresh gets the very same pair. It is sealed under a key derived from the presented
//! refresh token, which the database never holds: a database dump reveals no usable token.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::digest;
use zeroize::Zeroizing;

use crate::error::{GrantError, InternalError};
use crate::random::Random;
use crate::request::AccessFormat;
use crate::secret::Secret;
use crate::tokens::Issued;

#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    access_token: String,
    format: AccessFormat,
    expires_in: i64,
    scopes: Vec<String>,
    refresh_token: String,
}

fn key_for(presented: &Secret) -> Result<LessSafeKey, GrantError> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"latchkey refresh successor v1\0");
    ctx.update(presented.expose().as_bytes());
    let unbound = UnboundKey::new(&AES_256_GCM, ctx.finish().as_ref())
        .map_err(|_| GrantError::Internal(InternalError::Successor))?;
    Ok(LessSafeKey::new(unbound))
}

pub(crate) fn seal(
    presented: &Secret,
    pair: &Issued,
    random: &dyn Random,
) -> Result<Vec<u8>, GrantError> {
    let fail = || GrantError::Internal(InternalError::Successor);
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
    key_for(presented)?
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut *buf)
        .map_err(|_| fail())?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    Ok(out)
}

pub(crate) fn open(presented: &Secret, sealed: &[u8]) -> Result<Issued, GrantError> {
    let fail = || GrantError::Internal(InternalError::Successor);
    if sealed.len() < NONCE_LEN {
        return Err(fail());
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
    let mut buf = Zeroizing::new(body.to_vec());
    let plain = key_for(presented)?
        .open_in_place(nonce, Aad::empty(), &mut buf)
        .map_err(|_| fail())?;
    let body: Sealed = serde_json::from_slice(plain).map_err(|_| fail())?;
    Ok(Issued {
        access_token: Secret::new(body.access_token),
        format: body.format,
        expires_in: body.expires_in,
        scopes: body.scopes,
        refresh_token: Some(Secret::new(body.refresh_token)),
    })
}
