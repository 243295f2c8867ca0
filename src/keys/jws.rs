//! JWS Compact Serialization (RFC 7515 section 7.1): producing tokens signed by Latchkey and
//! taking apart and verifying tokens signed by clients (`private_key_jwt`, RFC 7523).
//!
//! Every input here may be hostile: nothing panics, sizes are bounded, and any problem is a
//! `KeyError`. Like all of `keys/`, this must not import axum or sea_orm.
use serde::Serialize;
use serde_json::{Map, Value};

use super::jwk::{JwkSet, JwsAlg};
use crate::crypto::{b64url_append, b64url_decode, b64url_len};

/// Longest token accepted for verification or decoding. Tokens from this server and client
/// assertions are far shorter; the bound keeps hostile input cheap to refuse.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a token or a key set was refused. The messages name no secret and echo no input, so
/// they are safe to log and to return to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No key in the set has the token's `kid` (or, for a token without `kid`, fits its
    /// `alg`). The set may be stale: a JWKS URI is worth fetching again, once.
    #[error("no key in the JWK Set matches the token")]
    NoMatchingKey,
    /// Anything else: a malformed token or key set, an unsupported algorithm, a bad signature,
    /// or a JWKS URI that could not be fetched.
    #[error("{0}")]
    Invalid(String),
}

impl KeyError {
    pub(crate) fn invalid(msg: &str) -> Self {
        Self::Invalid(msg.to_owned())
    }
}

/// A token whose signature has been verified. `claims` is a JSON object; nothing in it (not
/// even `exp`) has been checked yet.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedJws {
    pub header: Value,
    pub claims: Value,
}

/// A token taken apart WITHOUT checking its signature: only for finding out which key should
/// verify it (for example `iss`/`sub` of a client assertion). Never trust its contents.
#[derive(Debug, Clone, PartialEq)]
pub struct UnverifiedJws {
    pub header: Value,
    pub claims: Value,
}

/// The three parts of a compact JWS, with the header decoded.
pub(crate) struct Compact<'a> {
    /// ASCII(BASE64URL(header) || '.' || BASE64URL(payload)): what the signature covers.
    pub signing_input: &'a str,
    pub header: Map<String, Value>,
    payload_b64: &'a str,
    pub signature: Vec<u8>,
}

impl Compact<'_> {
    /// The header's `alg` (RFC 7515 section 4.1.1, required).
    pub fn alg(&self) -> Result<&str, KeyError> {
        self.header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| KeyError::invalid("the JWS header has no alg"))
    }

    /// The header's `kid`, if any; a `kid` that is not a string is an error.
    pub fn kid(&self) -> Result<Option<&str>, KeyError> {
        match self.header.get("kid") {
            None => Ok(None),
            Some(Value::String(k)) => Ok(Some(k)),
            Some(_) => Err(KeyError::invalid("the JWS kid must be a string")),
        }
    }

    /// The payload as a JSON object (a JWT Claims Set, RFC 7519 section 7.2 step 10).
    pub fn claims(&self) -> Result<Value, KeyError> {
        decode_object(self.payload_b64, "payload").map(Value::Object)
    }

    pub fn header_value(&self) -> Value {
        Value::Object(self.header.clone())
    }
}

/// Splits and decodes a compact JWS; the payload is decoded later, by `Compact::claims`.
pub(crate) fn split(token: &str) -> Result<Compact<'_>, KeyError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(KeyError::invalid("the token is too large"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(KeyError::invalid("the token is not a compact JWS"));
    };
    let header = decode_object(h, "header")?;
    // RFC 7515 section 4.1.11: extensions listed in crit must be understood; we support none
    // (this also refuses RFC 7797 unencoded payloads, which require crit).
    if header.contains_key("crit") {
        return Err(KeyError::invalid(
            "the JWS header has unsupported crit extensions",
        ));
    }
    let signature =
        b64url_decode(s).ok_or_else(|| KeyError::invalid("the JWS signature is not base64url"))?;
    Ok(Compact {
        signing_input: &token[..h.len() + 1 + p.len()],
        header,
        payload_b64: p,
        signature,
    })
}

fn decode_object(part: &str, what: &str) -> Result<Map<String, Value>, KeyError> {
    let bad = || KeyError::Invalid(format!("the JWS {what} is not base64url JSON object"));
    let bytes = b64url_decode(part).ok_or_else(bad)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(bad()),
    }
}

/// Produces a compact JWS with the protected header {"alg","typ","kid"}. `sign` receives the
/// JWS Signing Input and returns the raw signature bytes in their JWS form.
pub(crate) fn sign_compact(
    alg: &str,
    typ: &str,
    kid: &str,
    claims: &impl Serialize,
    sign: impl FnOnce(&[u8]) -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct Header<'a> {
        alg: &'a str,
        typ: &'a str,
        kid: &'a str,
    }
    let header = serde_json::to_vec(&Header { alg, typ, kid })?;
    let payload = serde_json::to_vec(claims)?;
    // One buffer for the whole token, with room for the longest signature (RSA-4096).
    const MAX_SIGNATURE_LEN: usize = 512;
    let mut token = String::with_capacity(
        b64url_len(header.len()) + b64url_len(payload.len()) + 2 + b64url_len(MAX_SIGNATURE_LEN),
    );
    b64url_append(&header, &mut token);
    token.push('.');
    b64url_append(&payload, &mut token);
    let signature = sign(token.as_bytes())?;
    token.push('.');
    b64url_append(&signature, &mut token);
    Ok(token)
}

/// Takes a token apart without verifying it. Use only to find the key that must verify it.
pub fn decode_unverified(token: &str) -> Result<UnverifiedJws, KeyError> {
    let compact = split(token)?;
    Ok(UnverifiedJws {
        claims: compact.claims()?,
        header: Value::Object(compact.header),
    })
}

/// Verifies a client-signed token against the client's JWK Set.
///
/// Accepts RS256/384/512, PS256/384/512, ES256, ES384 and EdDSA; never "none" or HS*
/// (RFC 8725 section 3.1). With a `kid` only keys with that kid are tried; without one, every
/// key that fits the algorithm is. Expiry and the other claims are the caller's to check.
pub fn verify_with_jwks(token: &str, jwks: &JwkSet) -> Result<VerifiedJws, KeyError> {
    let compact = split(token)?;
    let alg = JwsAlg::parse(compact.alg()?)
        .ok_or_else(|| KeyError::invalid("the JWS alg is not accepted"))?;
    let kid = compact.kid()?;
    let candidates: Vec<_> = jwks
        .keys()
        .iter()
        .filter(|k| kid.is_none() || k.kid() == kid)
        .collect();
    if candidates.is_empty() {
        return Err(KeyError::NoMatchingKey);
    }
    let fitting: Vec<_> = candidates.into_iter().filter(|k| k.fits(alg)).collect();
    if fitting.is_empty() {
        return Err(match kid {
            Some(_) => KeyError::invalid("the key named by kid cannot verify this alg"),
            None => KeyError::NoMatchingKey,
        });
    }
    let message = compact.signing_input.as_bytes();
    if !fitting
        .iter()
        .any(|k| k.verify(alg, message, &compact.signature))
    {
        return Err(KeyError::invalid("the JWS signature does not verify"));
    }
    Ok(VerifiedJws {
        claims: compact.claims()?,
        header: compact.header_value(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::b64url;
    use crate::keys::jwk::parse_jwks;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
    use serde_json::json;

    /// A client's key pair, generated here independently of the server's key code.
    enum ClientPair {
        Rsa(RsaKeyPair),
        Ec(EcdsaKeyPair),
        Ed(Ed25519KeyPair),
    }

    impl ClientPair {
        fn new(alg: &str) -> Self {
            match alg {
                "ES256" => Self::Ec(
                    EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
                ),
                "EdDSA" => Self::Ed(Ed25519KeyPair::generate().unwrap()),
                _ => Self::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap()),
            }
        }

        fn jwk(&self, kid: &str) -> Value {
            match self {
                Self::Rsa(p) => json!({"kty": "RSA", "kid": kid, "use": "sig",
                    "n": b64url(p.public_key().modulus().big_endian_without_leading_zero()),
                    "e": b64url(p.public_key().exponent().big_endian_without_leading_zero())}),
                Self::Ec(p) => {
                    let pt = p.public_key().as_ref();
                    json!({"kty": "EC", "crv": "P-256", "kid": kid,
                        "x": b64url(&pt[1..33]), "y": b64url(&pt[33..])})
                }
                Self::Ed(p) => json!({"kty": "OKP", "crv": "Ed25519", "kid": kid,
                    "x": b64url(p.public_key().as_ref())}),
            }
        }

        fn sign(&self, alg: &str, kid: Option<&str>, claims: &Value) -> String {
            let mut header = json!({"alg": alg, "typ": "JWT"});
            if let Some(kid) = kid {
                header["kid"] = kid.into();
            }
            let input = format!(
                "{}.{}",
                b64url(header.to_string().as_bytes()),
                b64url(claims.to_string().as_bytes())
            );
            let rng = SystemRandom::new();
            let sig = match self {
                Self::Rsa(p) => {
                    let enc: &'static dyn signature::RsaEncoding = match alg {
                        "PS256" => &signature::RSA_PSS_SHA256,
                        _ => &signature::RSA_PKCS1_SHA256,
                    };
                    let mut sig = vec![0; p.public_modulus_len()];
                    p.sign(enc, &rng, input.as_bytes(), &mut sig).unwrap();
                    sig
                }
                Self::Ec(p) => p.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
                Self::Ed(p) => p.sign(input.as_bytes()).as_ref().to_vec(),
            };
            format!("{input}.{}", b64url(&sig))
        }
    }

    fn set_of(pairs: &[(&ClientPair, &str)]) -> JwkSet {
        let keys: Vec<Value> = pairs.iter().map(|(p, kid)| p.jwk(kid)).collect();
        parse_jwks(&json!({ "keys": keys }).to_string()).unwrap()
    }

    #[test]
    fn verifies_client_tokens_for_each_key_type() {
        let claims = json!({"iss": "c1", "sub": "c1", "exp": 1});
        for alg in ["RS256", "PS256", "ES256", "EdDSA"] {
            let pair = ClientPair::new(alg);
            let set = set_of(&[(&pair, "k1")]);
            for kid in [Some("k1"), None] {
                let token = pair.sign(alg, kid, &claims);
                let v = verify_with_jwks(&token, &set).unwrap_or_else(|e| panic!("{alg}: {e}"));
                assert_eq!(v.claims, claims);
                assert_eq!(v.header["alg"], alg);
            }
        }
    }

    #[test]
    fn the_fully_specified_ed25519_name_is_accepted() {
        // RFC 9864: "Ed25519" names EdDSA on Ed25519.
        let pair = ClientPair::new("EdDSA");
        let set = set_of(&[(&pair, "k1")]);
        let token = pair.sign("Ed25519", Some("k1"), &json!({"sub": "c1"}));
        assert!(verify_with_jwks(&token, &set).is_ok());
    }

    #[test]
    fn unknown_kid_is_no_matching_key() {
        let pair = ClientPair::new("ES256");
        let set = set_of(&[(&pair, "k1")]);
        let token = pair.sign("ES256", Some("k2"), &json!({}));
        assert_eq!(verify_with_jwks(&token, &set), Err(KeyError::NoMatchingKey));
    }

    #[test]
    fn key_of_another_client_does_not_verify() {
        let pair = ClientPair::new("EdDSA");
        let other = ClientPair::new("EdDSA");
        let set = set_of(&[(&other, "k1")]);
        let token = pair.sign("EdDSA", Some("k1"), &json!({}));
        assert!(matches!(
            verify_with_jwks(&token, &set),
            Err(KeyError::Invalid(_))
        ));
    }

    #[test]
    fn refuses_none_and_hmac() {
        let pair = ClientPair::new("RS256");
        let set = set_of(&[(&pair, "k1")]);
        let payload = b64url(br#"{"iss":"c1"}"#);
        for alg in ["none", "HS256", "RS1", "ES512"] {
            let header = b64url(json!({"alg": alg, "kid": "k1"}).to_string().as_bytes());
            let sig = b64url(b"whatever");
            for token in [
                format!("{header}.{payload}."),
                format!("{header}.{payload}.{sig}"),
            ] {
                assert!(matches!(
                    verify_with_jwks(&token, &set),
                    Err(KeyError::Invalid(_))
                ));
            }
        }
    }

    #[test]
    fn refuses_alg_the_key_does_not_fit() {
        // An RS256 signature relabelled ES256 names a key that cannot do ES256.
        let pair = ClientPair::new("RS256");
        let set = set_of(&[(&pair, "k1")]);
        let token = pair.sign("ES256", Some("k1"), &json!({}));
        assert!(matches!(
            verify_with_jwks(&token, &set),
            Err(KeyError::Invalid(_))
        ));
    }

    #[test]
    fn refuses_tampered_payload() {
        let pair = ClientPair::new("ES256");
        let set = set_of(&[(&pair, "k1")]);
        let token = pair.sign("ES256", Some("k1"), &json!({"sub": "a"}));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = b64url(br#"{"sub":"b"}"#);
        assert!(verify_with_jwks(&parts.join("."), &set).is_err());
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        let pair = ClientPair::new("EdDSA");
        let set = set_of(&[(&pair, "k1")]);
        let huge = "a".repeat(MAX_TOKEN_LEN + 1);
        for token in [
            "",
            ".",
            "..",
            "...",
            "a.b.c",
            "a.b.c.d.e",
            "\u{e9}.\u{e9}.\u{e9}",
            "e30.e30.",
            "W10.e30.",
            "bnVsbA.e30.",
            &huge,
        ] {
            assert!(verify_with_jwks(token, &set).is_err(), "{token:.20}");
            assert!(decode_unverified(token).is_err() || token == "e30.e30.");
        }
        let crit = b64url(br#"{"alg":"EdDSA","crit":["b64"],"b64":false}"#);
        assert!(decode_unverified(&format!("{crit}.e30.")).is_err());
    }

    #[test]
    fn decode_unverified_reads_claims() {
        let pair = ClientPair::new("EdDSA");
        let token = pair.sign("EdDSA", None, &json!({"iss": "c1", "sub": "c1"}));
        let u = decode_unverified(&token).unwrap();
        assert_eq!(u.claims["iss"], "c1");
        assert_eq!(u.header["alg"], "EdDSA");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::keys::parse_jwks;

    proptest! {
        /// Hostile tokens and key sets never panic the verifier.
        #[test]
        fn arbitrary_tokens_are_refused_without_panicking(
            token in "[A-Za-z0-9_.=-]{0,400}",
            jwks in "\\PC{0,300}",
        ) {
            let _ = decode_unverified(&token);
            if let Ok(set) = parse_jwks(&jwks) {
                let _ = verify_with_jwks(&token, &set);
            }
        }
    }
}
