//! PKCE (RFC 7636) with the S256 method only: `plain` protects nothing against an attacker who
//! can read the authorization request, so it is refused (OAuth 2.1 §4.1.1 allows refusing it).

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

/// An S256 code challenge: BASE64URL(SHA256(code_verifier)), always 43 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeChallenge(String);

/// Why a challenge or a verifier is refused; the text is for the client's developer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error("code_challenge_method must be S256 (plain is not supported)")]
    Method,
    #[error("code_challenge_method was given without code_challenge")]
    MissingChallenge,
    #[error("code_challenge must be 43 base64url characters (an S256 challenge)")]
    Challenge,
    #[error("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")]
    VerifierSyntax,
    #[error("the code was issued with a PKCE challenge: code_verifier is required")]
    MissingVerifier,
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
    #[error("the code was issued without a PKCE challenge: code_verifier is not expected")]
    Unexpected,
}

impl CodeChallenge {
    /// The challenge of an authorization request, if it has one. A challenge without a method is
    /// a `plain` one (RFC 7636 §4.3), so it is refused too.
    pub fn parse(
        challenge: Option<&str>,
        method: Option<&str>,
    ) -> Result<Option<CodeChallenge>, PkceError> {
        let challenge = challenge.filter(|c| !c.is_empty());
        let method = method.filter(|m| !m.is_empty());
        match (challenge, method) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(PkceError::MissingChallenge),
            (Some(_), m) if m != Some("S256") => Err(PkceError::Method),
            (Some(c), _) => {
                let well_formed = c.len() == 43
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if well_formed {
                    Ok(Some(CodeChallenge(c.to_owned())))
                } else {
                    Err(PkceError::Challenge)
                }
            }
        }
    }

    /// A challenge read back from the store, where only parsed ones are written.
    pub(crate) fn stored(value: String) -> CodeChallenge {
        CodeChallenge(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6: the verifier's syntax (§4.1), then its S256 transform against the challenge,
    /// compared in constant time.
    pub fn verify(&self, verifier: &str) -> Result<(), PkceError> {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !well_formed {
            return Err(PkceError::VerifierSyntax);
        }
        let hashed = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
        if bool::from(hashed.as_bytes().ct_eq(self.0.as_bytes())) {
            Ok(())
        } else {
            Err(PkceError::Mismatch)
        }
    }
}

/// Checks the exchange's verifier against what the code was issued with (RFC 7636 §4.6; OAuth 2.1
/// §4.1.3: a verifier for a code issued without a challenge is refused too, so a downgrade shows).
pub(crate) fn check(
    challenge: Option<&CodeChallenge>,
    verifier: Option<&str>,
) -> Result<(), PkceError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(PkceError::Unexpected),
        (Some(_), None) => Err(PkceError::MissingVerifier),
        (Some(c), Some(v)) => c.verify(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_example_verifies() {
        let c = CodeChallenge::parse(Some(CHALLENGE), Some("S256"))
            .unwrap()
            .unwrap();
        assert_eq!(c.verify(VERIFIER), Ok(()));
        let mut wrong = VERIFIER.to_owned();
        wrong.replace_range(0..1, "e");
        assert_eq!(c.verify(&wrong), Err(PkceError::Mismatch));
    }

    #[test]
    fn plain_and_malformed_challenges_are_refused() {
        assert_eq!(CodeChallenge::parse(None, None), Ok(None));
        assert_eq!(
            CodeChallenge::parse(Some(CHALLENGE), None),
            Err(PkceError::Method),
            "no method means plain"
        );
        assert_eq!(
            CodeChallenge::parse(Some(CHALLENGE), Some("plain")),
            Err(PkceError::Method)
        );
        assert_eq!(
            CodeChallenge::parse(Some(CHALLENGE), Some("s256")),
            Err(PkceError::Method),
            "the method is case-sensitive"
        );
        assert_eq!(
            CodeChallenge::parse(None, Some("S256")),
            Err(PkceError::MissingChallenge)
        );
        for bad in [
            &CHALLENGE[..42],
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c=",
            "",
        ] {
            let parsed = CodeChallenge::parse(Some(bad), Some("S256"));
            assert!(
                matches!(
                    parsed,
                    Err(PkceError::Challenge | PkceError::MissingChallenge)
                ),
                "{bad}: {parsed:?}"
            );
        }
    }

    #[test]
    fn verifiers_are_held_to_their_syntax() {
        let c = CodeChallenge(CHALLENGE.into());
        for bad in ["short", &"a".repeat(129), &format!("{}+", &VERIFIER[..42])] {
            assert_eq!(c.verify(bad), Err(PkceError::VerifierSyntax), "{bad}");
        }
        assert_eq!(check(Some(&c), None), Err(PkceError::MissingVerifier));
        assert_eq!(check(None, Some(VERIFIER)), Err(PkceError::Unexpected));
        assert_eq!(check(None, None), Ok(()));
    }
}
