//! JSON Web Keys (RFC 7517) as published at `/oauth2/jwks.json`, and their RFC 7638 thumbprint,
//! which is the `kid` of every Latchkey key.

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};

use crate::b64;
use crate::error::TokenError;

/// One public key in JWK form (RFC 7517 §4; members per RFC 7518 §6 and RFC 8037 §2).
///
/// Deserialisation is lenient so that a JWK Set holding keys we cannot use still parses
/// (RFC 7517 §5): missing `kid`, `alg` or `use` become empty strings, unknown members are ignored,
/// and [`VerifyingKeys::from_jwk_set`](crate::VerifyingKeys::from_jwk_set) skips what it cannot use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA`, `EC` or `OKP` (RFC 7517 §4.1).
    #[serde(default)]
    pub kty: String,
    /// Key id; for Latchkey keys the RFC 7638 thumbprint (RFC 7517 §4.5).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kid: String,
    /// The one JWS algorithm this key is for (RFC 7517 §4.4).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alg: String,
    /// Public key use; `sig` for every Latchkey key (RFC 7517 §4.2).
    #[serde(rename = "use", default, skip_serializing_if = "String::is_empty")]
    pub use_: String,
    /// RSA modulus, base64url big-endian without leading zeros (RFC 7518 §6.3.1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent (RFC 7518 §6.3.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Curve: `P-256` (RFC 7518 §6.2.1.1) or `Ed25519` (RFC 8037 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate (RFC 7518 §6.2.1.2) or the Ed25519 public key (RFC 8037 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate (RFC 7518 §6.2.1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// A JWK Set (RFC 7517 §5): the body of `/oauth2/jwks.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys, current signing key and retired-but-published keys alike.
    pub keys: Vec<Jwk>,
}

impl Jwk {
    /// The RFC 7638 thumbprint: base64url(SHA-256(the required members, in lexicographic order,
    /// as JSON without whitespace)). `kid`, `alg` and `use` do not take part, so the thumbprint
    /// names the key material alone.
    pub fn thumbprint(&self) -> Result<String, TokenError> {
        let canonical = self.thumbprint_input()?;
        let hash = digest::digest(&digest::SHA256, canonical.as_bytes());
        Ok(b64::encode(hash.as_ref()))
    }

    /// RFC 7638 §3.2: the required members of the key type, sorted, no whitespace. The values are
    /// taken exactly as they appear (§3.3); serde_json escapes them as JSON requires.
    fn thumbprint_input(&self) -> Result<String, TokenError> {
        #[derive(Serialize)]
        struct Rsa<'a> {
            e: &'a str,
            kty: &'a str,
            n: &'a str,
        }
        #[derive(Serialize)]
        struct Ec<'a> {
            crv: &'a str,
            kty: &'a str,
            x: &'a str,
            y: &'a str,
        }
        // RFC 8037 §2: the required members of an OKP key are "crv", "kty" and "x".
        #[derive(Serialize)]
        struct Okp<'a> {
            crv: &'a str,
            kty: &'a str,
            x: &'a str,
        }

        fn member<'a>(m: &'a Option<String>, why: &'static str) -> Result<&'a str, TokenError> {
            m.as_deref().ok_or(TokenError::InvalidJwk(why))
        }
        let json = match self.kty.as_str() {
            "RSA" => serde_json::to_string(&Rsa {
                e: member(&self.e, "RSA key without \"e\"")?,
                kty: "RSA",
                n: member(&self.n, "RSA key without \"n\"")?,
            }),
            "EC" => serde_json::to_string(&Ec {
                crv: member(&self.crv, "EC key without \"crv\"")?,
                kty: "EC",
                x: member(&self.x, "EC key without \"x\"")?,
                y: member(&self.y, "EC key without \"y\"")?,
            }),
            "OKP" => serde_json::to_string(&Okp {
                crv: member(&self.crv, "OKP key without \"crv\"")?,
                kty: "OKP",
                x: member(&self.x, "OKP key without \"x\"")?,
            }),
            _ => return Err(TokenError::InvalidJwk("unsupported \"kty\"")),
        };
        Ok(json?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The RSA key of RFC 7638 §3.1.
    fn rfc7638_key() -> Jwk {
        Jwk {
            kty: "RSA".into(),
            kid: "2011-04-29".into(),
            alg: "RS256".into(),
            use_: String::new(),
            n: Some(
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into(),
            ),
            e: Some("AQAB".into()),
            crv: None,
            x: None,
            y: None,
        }
    }

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1: the resulting thumbprint of the example key.
        assert_eq!(
            rfc7638_key().thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn rfc8037_okp_thumbprint() {
        // RFC 8037 Appendix A.3: thumbprint of the Ed25519 example public key.
        let jwk = Jwk {
            kty: "OKP".into(),
            kid: String::new(),
            alg: String::new(),
            use_: String::new(),
            n: None,
            e: None,
            crv: Some("Ed25519".into()),
            x: Some("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into()),
            y: None,
        };
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn thumbprint_needs_the_required_members() {
        let mut jwk = rfc7638_key();
        jwk.e = None;
        assert!(matches!(jwk.thumbprint(), Err(TokenError::InvalidJwk(_))));
        jwk.kty = "oct".into();
        assert!(matches!(jwk.thumbprint(), Err(TokenError::InvalidJwk(_))));
    }

    #[test]
    fn serialises_without_absent_members_and_parses_leniently() {
        let json = serde_json::to_string(&rfc7638_key()).unwrap();
        assert!(json.starts_with(r#"{"kty":"RSA","kid":"2011-04-29","alg":"RS256","n":"0vx7"#));
        assert!(!json.contains("crv") && !json.contains("use"));

        let set: JwkSet = serde_json::from_str(
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kty":"EC","use":"sig","crv":"P-256","x":"a","y":"b","x5c":[]}]}"#,
        )
        .unwrap();
        assert_eq!(set.keys.len(), 2);
        assert_eq!(set.keys[0].kid, "");
        assert_eq!(set.keys[1].use_, "sig");
    }
}
