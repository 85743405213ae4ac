//! The JWS algorithms Latchkey signs and verifies with (RFC 7518 §3.1, RFC 8037 §3.1).
//!
//! Only asymmetric algorithms exist here: `none` and the `HS*` family cannot be named, so a token
//! whose header asks for them can never select a verification path (the "alg confusion" attack).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ParseAlgorithmError;

/// A JWS signature algorithm. Serialised (and parsed, case-sensitively as RFC 7515 §4.1.1
/// requires) as its JOSE name: `"RS512"`, `"RS256"`, `"ES256"`, `"EdDSA"`.
///
/// More algorithms may be added; [`Algorithm::ALL`] lists those of this version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-512 (RFC 7518 §3.3); what Open edX verifiers expect.
    #[default]
    RS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    RS256,
    /// ECDSA on P-256 with SHA-256 (RFC 7518 §3.4).
    ES256,
    /// Ed25519 (RFC 8037 §3.1).
    EdDSA,
}

impl Algorithm {
    /// Every supported algorithm, the default first. A slice, so that adding an algorithm does
    /// not change its type.
    pub const ALL: &'static [Algorithm] = &[
        Algorithm::RS512,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ];

    /// The JOSE name, as it appears in a header's `alg` and a JWK's `alg`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS512 => "RS512",
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// The JWK key type this algorithm's keys have (RFC 7518 §6.1, RFC 8037 §2).
    pub(crate) const fn kty(self) -> &'static str {
        match self {
            Algorithm::RS512 | Algorithm::RS256 => "RSA",
            Algorithm::ES256 => "EC",
            Algorithm::EdDSA => "OKP",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = ParseAlgorithmError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .iter()
            .copied()
            .find(|alg| alg.as_str() == s)
            .ok_or_else(|| ParseAlgorithmError(s.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str_display_and_serde() {
        for &alg in Algorithm::ALL {
            assert_eq!(alg.to_string().parse::<Algorithm>().unwrap(), alg);
            let json = serde_json::to_string(&alg).unwrap();
            assert_eq!(json, format!("\"{alg}\""));
            assert_eq!(serde_json::from_str::<Algorithm>(&json).unwrap(), alg);
        }
    }

    #[test]
    fn symmetric_and_none_are_not_algorithms() {
        for name in ["none", "HS256", "HS512", "rs512", "PS256", ""] {
            let err = name.parse::<Algorithm>().unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("RS512, RS256, ES256, EdDSA"), "{msg}");
            assert!(msg.contains(&format!("`{name}`")), "{msg}");
        }
    }
}
