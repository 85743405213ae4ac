//! Remembered consent: once a user granted a client some scopes, the consent page is not shown
//! again for those scopes (Open edX's django-oauth-toolkit does the same with its stored grants).
//! A code is only issued through a [`Consented`] proof, which says the user agreed now, agreed
//! before, or that the client may skip the question.

use crate::authorize::Authorization;
use crate::error::OAuthError;
use crate::store::{Consent, Store};
use crate::tokens::TokenService;
use crate::user::{User, UserId};

/// Proof that `user` consented to `authorization` (or need not be asked).
#[derive(Debug)]
pub struct Consented<'a> {
    authorization: &'a Authorization,
    user: &'a User,
}

impl<'a> Consented<'a> {
    pub fn authorization(&self) -> &'a Authorization {
        self.authorization
    }

    pub fn user(&self) -> &'a User {
        self.user
    }
}

impl<S: Store> TokenService<S> {
    /// `Some` when no question needs asking: the client skips authorization (a first-party
    /// client, Open edX's `skip_authorization`), or the user already granted it every scope asked.
    /// `None`: show the consent page.
    pub async fn consent_given<'a>(
        &self,
        authorization: &'a Authorization,
        user: &'a User,
    ) -> Result<Option<Consented<'a>>, OAuthError> {
        let proof = Consented {
            authorization,
            user,
        };
        if authorization.client.skip_authorization {
            return Ok(Some(proof));
        }
        let stored = self
            .store
            .consent(user.id, &authorization.client.id)
            .await?;
        let covered = stored.is_some_and(|c| {
            authorization
                .scopes
                .iter()
                .all(|s| c.scopes.iter().any(|g| g == s))
        });
        Ok(covered.then_some(proof))
    }

    /// The user agreed on the consent page: remembers the scopes (with those granted before) and
    /// returns the proof a code needs.
    pub async fn grant_consent<'a>(
        &self,
        authorization: &'a Authorization,
        user: &'a User,
        now: i64,
    ) -> Result<Consented<'a>, OAuthError> {
        let client_id = &authorization.client.id;
        let mut scopes = self
            .store
            .consent(user.id, client_id)
            .await?
            .map(|c| c.scopes)
            .unwrap_or_default();
        for s in &authorization.scopes {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        self.store
            .save_consent(&Consent {
                user_id: user.id,
                client_id: client_id.clone(),
                scopes,
                granted_at: now,
            })
            .await?;
        Ok(Consented {
            authorization,
            user,
        })
    }

    /// Forgets what `user` granted `client_id`: the next authorization asks again. Tokens already
    /// issued stay valid until they expire or are revoked.
    pub async fn revoke_consent(&self, user: UserId, client_id: &str) -> Result<bool, OAuthError> {
        Ok(self.store.revoke_consent(user, client_id).await?)
    }

    /// Every client `user` consented to, and what they granted it.
    pub async fn consents(&self, user: UserId) -> Result<Vec<Consent>, OAuthError> {
        Ok(self.store.consents(user).await?)
    }
}
