//! Verifying a JWT: the JWS checks of RFC 7515 §5.2, then the claim checks of RFC 7519 §7.2 and
//! Open edX (`version`). Claims are decoded only after the signature has been checked.

use std::borrow::Cow;

use serde::de::{DeserializeOwned, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use crate::compact::{Parts, RawHeader};
use crate::error::VerifyError;
use crate::{b64, Algorithm, VerifyingKeys};

/// What a token must satisfy besides a good signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validation {
    /// The exact `iss` required (RFC 7519 §4.1.1).
    pub issuer: String,
    /// The audience that `aud` (a string or an array of strings) must contain (RFC 7519 §4.1.3).
    pub audience: String,
    /// The algorithms accepted in the header. Whatever is listed, the header's `alg` must also be
    /// the algorithm of the key its `kid` names.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated for `exp`, `nbf` and `iat`, in seconds; a negative value counts as 0.
    pub leeway_secs: i64,
    /// If set, `version` must be present and its major number (`1` in `"1.2.0"`) must equal it.
    pub required_version_major: Option<u64>,
}

impl Validation {
    /// Requires `issuer` and `audience`; accepts every [`Algorithm`], no leeway, any version.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Validation {
        Validation {
            issuer: issuer.into(),
            audience: audience.into(),
            algorithms: Algorithm::ALL.to_vec(),
            leeway_secs: 0,
            required_version_major: None,
        }
    }
}

/// Verifies `token` against `keys` and `v` at time `now` (unix seconds), and returns its claims.
///
/// In order, failing with the first that does not hold:
/// 1. the token is a compact JWS with a JSON header without `crit`, whose `typ`, if present, is
///    `JWT`, and which names a `kid` ([`VerifyError::Malformed`]);
/// 2. the header's `alg` is one of ours and in `v.algorithms` ([`VerifyError::UnsupportedAlgorithm`];
///    `none` and `HS*` can never pass: no key of ours is symmetric);
/// 3. the `kid` is known ([`VerifyError::UnknownKid`]: refetch the JWK Set and retry) and its key
///    is for that very `alg` ([`VerifyError::UnsupportedAlgorithm`]);
/// 4. the signature verifies ([`VerifyError::BadSignature`]);
/// 5. the payload is a JSON object with a numeric `exp` ([`VerifyError::BadClaims`]), and
///    `now < exp + leeway` ([`VerifyError::Expired`], RFC 7519 §4.1.4); if present,
///    `nbf <= now + leeway` ([`VerifyError::NotYetValid`]) and `iat <= now + leeway`
///    ([`VerifyError::IssuedInFuture`]);
/// 6. `iss` equals `v.issuer` ([`VerifyError::WrongIssuer`]), `aud` is or contains
///    `v.audience` ([`VerifyError::WrongAudience`]), and the `version` major matches if
///    required ([`VerifyError::WrongVersion`]);
/// 7. the payload deserialises as `C` ([`VerifyError::BadClaims`]).
pub fn verify<C: DeserializeOwned>(
    token: &str,
    keys: &VerifyingKeys,
    v: &Validation,
    now: i64,
) -> Result<C, VerifyError> {
    let parts = Parts::split(token)?;
    check_signature(&parts, keys, v)?;

    let payload = b64::decode(parts.payload_b64).ok_or(VerifyError::Malformed)?;
    let registered: Registered<'_> =
        serde_json::from_slice(&payload).map_err(|_| VerifyError::BadClaims)?;
    registered.check(v, now)?;
    serde_json::from_slice(&payload).map_err(|_| VerifyError::BadClaims)
}

/// RFC 7515 §5.2: header, algorithm, key and signature. Nothing of the payload is read here.
fn check_signature(
    parts: &Parts<'_>,
    keys: &VerifyingKeys,
    v: &Validation,
) -> Result<(), VerifyError> {
    let header_json = b64::decode(parts.header_b64).ok_or(VerifyError::Malformed)?;
    let header: RawHeader<'_> =
        serde_json::from_slice(&header_json).map_err(|_| VerifyError::Malformed)?;
    if header.crit.is_some() {
        return Err(VerifyError::Malformed);
    }
    // RFC 7515 §4.1.9 / RFC 7519 §5.1: `typ` compares case-insensitively, "application/" may be
    // left out. Refusing other types keeps JWTs made for another purpose (RFC 9068 `at+jwt`,
    // RFC 9701 introspection responses) from passing as ours.
    if let Some(typ) = header.typ.as_deref() {
        let typ = strip_prefix_ignore_case(typ, "application/");
        if !typ.eq_ignore_ascii_case("JWT") {
            return Err(VerifyError::Malformed);
        }
    }
    let alg: Algorithm = header
        .alg
        .parse()
        .map_err(|_| VerifyError::UnsupportedAlgorithm)?;
    if !v.algorithms.contains(&alg) {
        return Err(VerifyError::UnsupportedAlgorithm);
    }
    let kid = header.kid.ok_or(VerifyError::Malformed)?;
    let key = keys
        .get(&kid)
        .ok_or_else(|| VerifyError::UnknownKid(kid.into_owned()))?;
    // RFC 7515 §10.7 / RFC 8725 §3.1: the key, not the token, decides the algorithm.
    if key.alg != alg {
        return Err(VerifyError::UnsupportedAlgorithm);
    }
    let signature = b64::decode(parts.signature_b64).ok_or(VerifyError::Malformed)?;
    key.key
        .verify_sig(parts.signing_input.as_bytes(), &signature)
        .map_err(|_| VerifyError::BadSignature)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> &'a str {
    match s.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix) => &s[prefix.len()..],
        _ => s,
    }
}

/// The registered claims (RFC 7519 §4.1) and Open edX's `version`; other members are ignored.
#[derive(Deserialize)]
struct Registered<'a> {
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    #[serde(borrow, default)]
    iss: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    aud: Option<Audience<'a>>,
    #[serde(borrow, default)]
    version: Option<Cow<'a, str>>,
}

impl Registered<'_> {
    fn check(&self, v: &Validation, now: i64) -> Result<(), VerifyError> {
        let leeway = v.leeway_secs.max(0);
        // RFC 7519 §4.1.4: the token MUST NOT be accepted on or after `exp`. We require `exp`:
        // every token we issue expires. Saturating: `exp` comes from the client.
        let exp = self.exp.ok_or(VerifyError::BadClaims)?;
        if now >= exp.saturating_add(leeway) {
            return Err(VerifyError::Expired);
        }
        let latest_start = now.saturating_add(leeway);
        if self.nbf.is_some_and(|nbf| nbf > latest_start) {
            return Err(VerifyError::NotYetValid);
        }
        if self.iat.is_some_and(|iat| iat > latest_start) {
            return Err(VerifyError::IssuedInFuture);
        }
        if self.iss.as_deref() != Some(v.issuer.as_str()) {
            return Err(VerifyError::WrongIssuer);
        }
        if !self
            .aud
            .as_ref()
            .is_some_and(|aud| aud.contains(&v.audience))
        {
            return Err(VerifyError::WrongAudience);
        }
        if let Some(required) = v.required_version_major {
            let major = self
                .version
                .as_deref()
                .and_then(|version| version.split('.').next())
                .and_then(|major| major.parse::<u64>().ok());
            if major != Some(required) {
                return Err(VerifyError::WrongVersion);
            }
        }
        Ok(())
    }
}

/// RFC 7519 §4.1.3: `aud` is one string or an array of strings.
enum Audience<'a> {
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

impl Audience<'_> {
    fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(aud) => aud == audience,
            Audience::Many(auds) => auds.iter().any(|aud| aud == audience),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Audience<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AudienceVisitor<'a>(std::marker::PhantomData<Audience<'a>>);

        impl<'de: 'a, 'a> Visitor<'de> for AudienceVisitor<'a> {
            type Value = Audience<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }

            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                s: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Audience::One(Cow::Borrowed(s)))
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Audience::One(Cow::Owned(s.to_owned())))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut auds = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(16));
                // `Cow<str>` alone never borrows; this wrapper does, whenever the JSON has no
                // escapes.
                while let Some(BorrowedStr(aud)) = seq.next_element()? {
                    auds.push(aud);
                }
                Ok(Audience::Many(auds))
            }
        }

        deserializer.deserialize_any(AudienceVisitor(std::marker::PhantomData))
    }
}

/// A string that borrows from the input when it can.
#[derive(Deserialize)]
struct BorrowedStr<'a>(#[serde(borrow)] Cow<'a, str>);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::OnceLock;

    use serde_json::{json, Value};

    use super::*;
    use crate::{AccessClaims, JwkSet, SigningKey};

    const NOW: i64 = 1_700_000_000;
    const ISS: &str = "https://lms.example.com/oauth2";
    const AUD: &str = "openedx";

    /// One key per algorithm, generated once for the whole module (RSA generation is slow).
    fn signing_keys() -> &'static [SigningKey] {
        static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
        KEYS.get_or_init(|| {
            Algorithm::ALL
                .iter()
                .map(|&alg| SigningKey::generate(alg).unwrap())
                .collect()
        })
    }

    fn key(alg: Algorithm) -> &'static SigningKey {
        signing_keys()
            .iter()
            .find(|k| k.algorithm() == alg)
            .unwrap()
    }

    fn keys() -> VerifyingKeys {
        // RS512 and RS256 keys are distinct key pairs, so their kids differ.
        let set = JwkSet {
            keys: signing_keys().iter().map(SigningKey::public_jwk).collect(),
        };
        VerifyingKeys::from_jwk_set(&set).unwrap()
    }

    fn validation() -> Validation {
        Validation {
            issuer: ISS.into(),
            audience: AUD.into(),
            algorithms: Algorithm::ALL.to_vec(),
            leeway_secs: 0,
            required_version_major: Some(1),
        }
    }

    fn access_claims() -> AccessClaims {
        let mut claims = crate::claims::tests::claims();
        claims.user_id = Some(7);
        claims.email = Some("honor@example.com".into());
        claims
    }

    fn claims_with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
        let mut claims = json!({"iss": ISS, "aud": AUD, "exp": NOW + 60, "iat": NOW,
                                "version": "1.2.0", "sub": "s"});
        change(claims.as_object_mut().unwrap());
        claims
    }

    /// Signs any header and payload with `key`: tokens our `sign` would never make.
    fn forge(key: &SigningKey, header: &Value, payload: &[u8]) -> String {
        let mut jws = b64::encode(header.to_string().as_bytes());
        jws.push('.');
        b64::encode_into(payload, &mut jws);
        key.append_signature(&mut jws).unwrap();
        jws
    }

    fn header(key: &SigningKey) -> Value {
        json!({"alg": key.algorithm().as_str(), "typ": "JWT", "kid": key.kid()})
    }

    fn check(token: &str, v: &Validation, now: i64) -> Result<Value, VerifyError> {
        verify::<Value>(token, &keys(), v, now)
    }

    #[test]
    fn round_trip_for_each_algorithm() {
        let keys = keys();
        for &alg in Algorithm::ALL {
            let jwt = key(alg).sign(&access_claims()).unwrap();
            let got: AccessClaims = verify(&jwt, &keys, &validation(), NOW).unwrap();
            assert_eq!(got, access_claims(), "{alg}");
        }
    }

    #[test]
    fn tampered_tokens_fail() {
        for &alg in Algorithm::ALL {
            let jwt = key(alg).sign(&access_claims()).unwrap();
            let [h, p, s]: [&str; 3] = jwt.split('.').collect::<Vec<_>>().try_into().unwrap();

            let mut other = access_claims();
            other.preferred_username = "staff".into();
            let forged_payload = b64::encode(&serde_json::to_vec(&other).unwrap());
            let tampered = format!("{h}.{forged_payload}.{s}");
            assert_eq!(
                check(&tampered, &validation(), NOW),
                Err(VerifyError::BadSignature)
            );

            let mut sig = b64::decode(s).unwrap();
            sig[10] ^= 1;
            let tampered = format!("{h}.{p}.{}", b64::encode(&sig));
            assert_eq!(
                check(&tampered, &validation(), NOW),
                Err(VerifyError::BadSignature)
            );

            // A signature of another length, and one in the wrong alphabet.
            let short = format!("{h}.{p}.{}", b64::encode(&sig[..sig.len() - 1]));
            assert_eq!(
                check(&short, &validation(), NOW),
                Err(VerifyError::BadSignature)
            );
            let padded = format!("{jwt}=");
            assert_eq!(
                check(&padded, &validation(), NOW),
                Err(VerifyError::Malformed)
            );
        }
    }

    #[test]
    fn claims_are_not_read_before_the_signature_is_checked() {
        let key = key(Algorithm::EdDSA);
        let jwt = forge(key, &header(key), b"not json");
        let (signed, _) = jwt.rsplit_once('.').unwrap();
        let bad_sig = format!("{signed}.{}", b64::encode(&[0u8; 64]));
        assert_eq!(
            check(&bad_sig, &validation(), NOW),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(check(&jwt, &validation(), NOW), Err(VerifyError::BadClaims));
    }

    #[test]
    fn alg_confusion_is_rejected() {
        let rsa = key(Algorithm::RS512);
        let payload = serde_json::to_vec(&claims_with(|_| {})).unwrap();

        // HS256 with the public key as the HMAC secret: the classic confusion attack.
        let secret = rsa.public_jwk().n.unwrap();
        let mut signing_input = b64::encode(
            json!({"alg": "HS256", "typ": "JWT", "kid": rsa.kid()})
                .to_string()
                .as_bytes(),
        );
        signing_input.push('.');
        b64::encode_into(&payload, &mut signing_input);
        let hmac_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
        let tag = aws_lc_rs::hmac::sign(&hmac_key, signing_input.as_bytes());
        let hs256 = format!("{signing_input}.{}", b64::encode(tag.as_ref()));
        assert_eq!(
            check(&hs256, &validation(), NOW),
            Err(VerifyError::UnsupportedAlgorithm)
        );

        // alg "none": with an empty signature it is not even a JWS we read; with one, refused.
        let none_header = b64::encode(
            json!({"alg": "none", "kid": rsa.kid()})
                .to_string()
                .as_bytes(),
        );
        let unsecured = format!("{none_header}.{}.", b64::encode(&payload));
        assert_eq!(
            check(&unsecured, &validation(), NOW),
            Err(VerifyError::Malformed)
        );
        let with_sig = format!("{none_header}.{}.AAAA", b64::encode(&payload));
        assert_eq!(
            check(&with_sig, &validation(), NOW),
            Err(VerifyError::UnsupportedAlgorithm)
        );

        // An RS512 key's token relabelled RS256 (and re-signed with the same key as RS256 would
        // be): the key decides the algorithm.
        let relabelled = forge(rsa, &json!({"alg": "RS256", "kid": rsa.kid()}), &payload);
        assert_eq!(
            check(&relabelled, &validation(), NOW),
            Err(VerifyError::UnsupportedAlgorithm)
        );
        // An ES256 token whose header claims EdDSA.
        let ec = key(Algorithm::ES256);
        let lying = forge(ec, &json!({"alg": "EdDSA", "kid": ec.kid()}), &payload);
        assert_eq!(
            check(&lying, &validation(), NOW),
            Err(VerifyError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn algorithms_outside_the_validation_are_refused() {
        let jwt = key(Algorithm::ES256).sign(&claims_with(|_| {})).unwrap();
        let mut v = validation();
        v.algorithms = vec![Algorithm::RS512];
        assert_eq!(check(&jwt, &v, NOW), Err(VerifyError::UnsupportedAlgorithm));
        v.algorithms.push(Algorithm::ES256);
        assert!(check(&jwt, &v, NOW).is_ok());
    }

    #[test]
    fn kid_must_be_present_and_known() {
        let key = key(Algorithm::EdDSA);
        let payload = serde_json::to_vec(&claims_with(|_| {})).unwrap();
        let unknown = forge(key, &json!({"alg": "EdDSA", "kid": "gone"}), &payload);
        assert_eq!(
            check(&unknown, &validation(), NOW),
            Err(VerifyError::UnknownKid("gone".into()))
        );
        let missing = forge(key, &json!({"alg": "EdDSA"}), &payload);
        assert_eq!(
            check(&missing, &validation(), NOW),
            Err(VerifyError::Malformed)
        );
    }

    #[test]
    fn header_typ_and_crit() {
        let key = key(Algorithm::EdDSA);
        let payload = serde_json::to_vec(&claims_with(|_| {})).unwrap();
        let with = |extra: Value| {
            let mut h = json!({"alg": "EdDSA", "kid": key.kid()});
            h.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            check(&forge(key, &h, &payload), &validation(), NOW)
        };
        assert!(with(json!({})).is_ok());
        assert!(with(json!({"typ": "jwt"})).is_ok());
        assert!(with(json!({"typ": "application/JWT"})).is_ok());
        assert_eq!(with(json!({"typ": "at+jwt"})), Err(VerifyError::Malformed));
        assert_eq!(
            with(json!({"typ": "token-introspection+jwt"})),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            with(json!({"crit": ["exp"], "exp": 1})),
            Err(VerifyError::Malformed)
        );
        // Unknown members are ignored (RFC 7515 §4), key-fetching ones included: we never fetch.
        assert!(with(json!({"jku": "https://evil.example/jwks", "x5t": "abc"})).is_ok());
    }

    #[test]
    fn duplicate_header_members_are_refused() {
        // RFC 7515 §5.2 step 4: reject JSON with duplicate member names.
        let key = key(Algorithm::EdDSA);
        let payload = serde_json::to_vec(&claims_with(|_| {})).unwrap();
        let raw = format!(r#"{{"alg":"EdDSA","alg":"none","kid":"{}"}}"#, key.kid());
        let mut jws = b64::encode(raw.as_bytes());
        jws.push('.');
        b64::encode_into(&payload, &mut jws);
        key.append_signature(&mut jws).unwrap();
        assert_eq!(check(&jws, &validation(), NOW), Err(VerifyError::Malformed));
    }

    fn signed(claims: &Value) -> String {
        key(Algorithm::ES256).sign(claims).unwrap()
    }

    #[test]
    fn exp_with_leeway() {
        let jwt = signed(&claims_with(|c| {
            c.insert("exp".into(), json!(NOW));
            c.insert("iat".into(), json!(NOW - 3600));
        }));
        let mut v = validation();
        assert!(check(&jwt, &v, NOW - 1).is_ok());
        assert_eq!(check(&jwt, &v, NOW), Err(VerifyError::Expired));
        v.leeway_secs = 30;
        assert!(check(&jwt, &v, NOW + 29).is_ok());
        assert_eq!(check(&jwt, &v, NOW + 30), Err(VerifyError::Expired));
        v.leeway_secs = -30;
        assert_eq!(check(&jwt, &v, NOW), Err(VerifyError::Expired));
        assert!(check(&jwt, &v, NOW - 1).is_ok());
    }

    #[test]
    fn exp_is_required_and_overflow_safe() {
        let no_exp = signed(&claims_with(|c| {
            c.remove("exp");
        }));
        assert_eq!(
            check(&no_exp, &validation(), NOW),
            Err(VerifyError::BadClaims)
        );
        let text_exp = signed(&claims_with(|c| {
            c.insert("exp".into(), json!("tomorrow"));
        }));
        assert_eq!(
            check(&text_exp, &validation(), NOW),
            Err(VerifyError::BadClaims)
        );

        let forever = signed(&claims_with(|c| {
            c.insert("exp".into(), json!(i64::MAX));
            c.insert("iat".into(), json!(i64::MIN));
        }));
        let mut v = validation();
        v.leeway_secs = i64::MAX;
        assert!(check(&forever, &v, i64::MAX - 1).is_ok());
        assert!(check(&forever, &v, i64::MIN).is_ok());
    }

    #[test]
    fn iat_and_nbf_not_in_the_future() {
        let future = signed(&claims_with(|c| {
            c.insert("iat".into(), json!(NOW + 10));
        }));
        let mut v = validation();
        assert_eq!(check(&future, &v, NOW), Err(VerifyError::IssuedInFuture));
        assert!(check(&future, &v, NOW + 10).is_ok());
        v.leeway_secs = 10;
        assert!(check(&future, &v, NOW).is_ok());
        assert_eq!(
            check(&future, &v, NOW - 1),
            Err(VerifyError::IssuedInFuture)
        );

        let early = signed(&claims_with(|c| {
            c.insert("nbf".into(), json!(NOW + 5));
        }));
        assert_eq!(
            check(&early, &validation(), NOW),
            Err(VerifyError::NotYetValid)
        );
        assert!(check(&early, &validation(), NOW + 5).is_ok());

        let no_iat = signed(&claims_with(|c| {
            c.remove("iat");
        }));
        assert!(check(&no_iat, &validation(), NOW).is_ok());
    }

    #[test]
    fn issuer_must_match_exactly() {
        for iss in [
            json!("https://evil.example/oauth2"),
            json!(format!("{ISS}/")),
            Value::Null,
        ] {
            let jwt = signed(&claims_with(|c| {
                c.insert("iss".into(), iss.clone());
            }));
            assert_eq!(
                check(&jwt, &validation(), NOW),
                Err(VerifyError::WrongIssuer),
                "{iss}"
            );
        }
        let missing = signed(&claims_with(|c| {
            c.remove("iss");
        }));
        assert_eq!(
            check(&missing, &validation(), NOW),
            Err(VerifyError::WrongIssuer)
        );
    }

    #[test]
    fn audience_is_a_string_or_an_array() {
        let with_aud = |aud: Value| {
            let jwt = signed(&claims_with(|c| {
                c.insert("aud".into(), aud);
            }));
            check(&jwt, &validation(), NOW)
        };
        assert!(with_aud(json!(AUD)).is_ok());
        assert!(with_aud(json!(["other", AUD])).is_ok());
        // An escaped string is compared after unescaping.
        assert!(with_aud(json!("open\u{65}dx")).is_ok());
        assert_eq!(with_aud(json!("other")), Err(VerifyError::WrongAudience));
        assert_eq!(with_aud(json!(["other"])), Err(VerifyError::WrongAudience));
        assert_eq!(with_aud(json!([])), Err(VerifyError::WrongAudience));
        assert_eq!(with_aud(Value::Null), Err(VerifyError::WrongAudience));
        assert_eq!(with_aud(json!(7)), Err(VerifyError::BadClaims));
        assert_eq!(with_aud(json!([AUD, 7])), Err(VerifyError::BadClaims));
    }

    #[test]
    fn escaped_audience_strings_are_unescaped() {
        // Built by hand: serde_json would not escape an ASCII letter itself.
        let payload = format!(
            r#"{{"iss":"{ISS}","aud":["x","open\u0065dx"],"exp":{},"version":"1.0.0"}}"#,
            NOW + 5
        );
        let key = key(Algorithm::EdDSA);
        let jwt = forge(key, &header(key), payload.as_bytes());
        assert!(check(&jwt, &validation(), NOW).is_ok());
    }

    #[test]
    fn version_major_when_required() {
        let with_version = |version: Option<Value>, required: Option<u64>| {
            let jwt = signed(&claims_with(|c| match &version {
                Some(version) => {
                    c.insert("version".into(), version.clone());
                }
                None => {
                    c.remove("version");
                }
            }));
            let mut v = validation();
            v.required_version_major = required;
            check(&jwt, &v, NOW)
        };
        assert!(with_version(Some(json!("1.2.0")), Some(1)).is_ok());
        assert!(with_version(Some(json!("1")), Some(1)).is_ok());
        assert_eq!(
            with_version(Some(json!("2.0.0")), Some(1)),
            Err(VerifyError::WrongVersion)
        );
        assert_eq!(
            with_version(Some(json!("0.9")), Some(1)),
            Err(VerifyError::WrongVersion)
        );
        assert_eq!(
            with_version(Some(json!("v1")), Some(1)),
            Err(VerifyError::WrongVersion)
        );
        assert_eq!(with_version(None, Some(1)), Err(VerifyError::WrongVersion));
        assert!(with_version(None, None).is_ok());
        assert!(with_version(Some(json!("2.0.0")), None).is_ok());
    }

    #[test]
    fn claims_of_the_wrong_shape_are_bad_claims() {
        let jwt = signed(&claims_with(|_| {}));
        let got = verify::<AccessClaims>(&jwt, &keys(), &validation(), NOW);
        assert_eq!(got, Err(VerifyError::BadClaims));

        let key = key(Algorithm::EdDSA);
        for payload in [
            &b"[1,2]"[..],
            b"\"exp\"",
            b"{\"exp\": 1, \"exp\": 99999999999}",
        ] {
            let jwt = forge(key, &header(key), payload);
            assert_eq!(check(&jwt, &validation(), 0), Err(VerifyError::BadClaims));
        }
    }

    #[test]
    fn validation_new_accepts_every_algorithm() {
        let v = Validation::new(ISS, AUD);
        assert_eq!(v.algorithms, Algorithm::ALL);
        assert_eq!((v.leeway_secs, v.required_version_major), (0, None));
    }
}
