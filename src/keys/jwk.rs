//! Client JSON Web Key Sets (RFC 7517, RFC 7518 section 6, RFC 8037): parsing the keys that
//! verify `private_key_jwt` assertions (RFC 7523) and the algorithms accepted with them.
//!
//! Pure functions, no I/O. Like all of `keys/`, this must not import axum or sea_orm.
use aws_lc_rs::signature::{
    self, EcdsaVerificationAlgorithm, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents,
};
use serde_json::{Map, Value};

use super::jws::KeyError;
use crate::crypto::b64url_decode;

/// Members only a private or symmetric key has (RFC 7518 sections 6.2.2, 6.3.2 and 6.4.1).
/// A client that publishes one of these has leaked its key, so the whole document is refused.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
/// Bounds the work of verifying a token without a `kid`, which tries every fitting key.
const MAX_KEYS: usize = 100;
const MIN_RSA_BITS: usize = 2048;
const MAX_RSA_BITS: usize = 8192;

/// The JWS algorithms accepted from clients (RFC 7518 section 3.1, RFC 8037 section 3.1).
/// "none" and the HMAC algorithms are deliberately absent: a client's signature must be made
/// with a private key only the client holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwsAlg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl JwsAlg {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "PS256" => Self::PS256,
            "PS384" => Self::PS384,
            "PS512" => Self::PS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            // RFC 9864 section 2: "Ed25519" is the fully specified name of EdDSA on Ed25519,
            // the only curve accepted here.
            "EdDSA" | "Ed25519" => Self::EdDSA,
            _ => return None,
        })
    }

    /// RSA parameters; each requires a 2048 to 8192 bit modulus. PSS uses a salt as long as the
    /// hash, as RFC 7518 section 3.5 requires.
    fn rsa_params(self) -> Option<&'static RsaParameters> {
        Some(match self {
            Self::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Self::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Self::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }
}

/// A client public key in a usable form. EC and OKP keys serve exactly one algorithm each and
/// are parsed once; an RSA key serves six, so its components are kept.
#[derive(Debug, Clone)]
enum ClientKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// P-256 for ES256, P-384 for ES384 (RFC 7518 section 3.4).
    Ec {
        alg: JwsAlg,
        key: ParsedPublicKey,
    },
    Ed25519(ParsedPublicKey),
}

/// One usable verification key from a client's JWK Set.
#[derive(Debug, Clone)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<String>,
    key: ClientKey,
}

impl Jwk {
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether this key may verify `alg`: its type and curve fit, and its `alg` member, if any,
    /// names exactly `alg` (RFC 7517 section 4.4).
    pub(crate) fn fits(&self, alg: JwsAlg) -> bool {
        if self
            .alg
            .as_deref()
            .is_some_and(|a| JwsAlg::parse(a) != Some(alg))
        {
            return false;
        }
        match &self.key {
            ClientKey::Rsa { .. } => alg.rsa_params().is_some(),
            ClientKey::Ec { alg: a, .. } => *a == alg,
            ClientKey::Ed25519(_) => alg == JwsAlg::EdDSA,
        }
    }

    pub(crate) fn verify(&self, alg: JwsAlg, message: &[u8], sig: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        match &self.key {
            ClientKey::Rsa { n, e } => alg.rsa_params().is_some_and(|params| {
                RsaPublicKeyComponents {
                    n: &n[..],
                    e: &e[..],
                }
                .verify(params, message, sig)
                .is_ok()
            }),
            ClientKey::Ec { key, .. } | ClientKey::Ed25519(key) => {
                key.verify_sig(message, sig).is_ok()
            }
        }
    }
}

/// The usable signature verification keys of a client's JWK Set (RFC 7517 section 5). Never
/// empty: `parse_jwks` refuses a document without a usable key.
#[derive(Debug, Clone)]
pub struct JwkSet {
    keys: Vec<Jwk>,
}

impl JwkSet {
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }
}

/// Whether tokens signed with the JWS `alg` named `s` can be verified here (never `none`
/// or HMAC: RFC 8725 section 3.1).
pub fn is_verifiable_alg(s: &str) -> bool {
    JwsAlg::parse(s).is_some()
}

/// Parses a client's JWK Set document. Keys that cannot verify signatures here (encryption
/// keys, unknown types or curves, RSA under 2048 bits, malformed members) are skipped; a
/// document with private key material, more than 100 keys or no usable key is refused.
pub fn parse_jwks(json: &str) -> Result<JwkSet, KeyError> {
    let invalid = |m: &str| KeyError::Invalid(m.to_owned());
    let doc: Value = serde_json::from_str(json).map_err(|_| invalid("JWKS is not valid JSON"))?;
    let keys = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("JWKS must be an object with a \"keys\" array"))?;
    if keys.len() > MAX_KEYS {
        return Err(invalid("JWKS has too many keys"));
    }
    let objects: Vec<&Map<String, Value>> = keys.iter().filter_map(Value::as_object).collect();
    if objects
        .iter()
        .any(|k| PRIVATE_MEMBERS.iter().any(|m| k.contains_key(*m)))
    {
        return Err(invalid(
            "JWKS contains private key material; publish public keys only",
        ));
    }
    let keys: Vec<Jwk> = objects.into_iter().filter_map(parse_key).collect();
    if keys.is_empty() {
        return Err(invalid(
            "JWKS contains no usable signature verification key",
        ));
    }
    Ok(JwkSet { keys })
}

fn parse_key(obj: &Map<String, Value>) -> Option<Jwk> {
    let text = |name: &str| -> Result<Option<String>, ()> {
        match obj.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(()),
        }
    };
    // RFC 7517 section 4.2: a key whose use is not "sig" is not a signature key.
    if text("use").ok()?.is_some_and(|u| u != "sig") {
        return None;
    }
    // RFC 7517 section 4.3: when key_ops is present it must allow verification.
    if let Some(ops) = obj.get("key_ops") {
        let ops = ops.as_array()?;
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return None;
        }
    }
    let kid = text("kid").ok()?;
    let alg = text("alg").ok()?;
    let member = |name: &str| obj.get(name)?.as_str().and_then(b64url_decode);
    let key = match (
        obj.get("kty")?.as_str()?,
        obj.get("crv").and_then(Value::as_str),
    ) {
        ("RSA", _) => {
            let n = strip_leading_zeros(member("n")?);
            let e = strip_leading_zeros(member("e")?);
            let bits = bit_len(&n);
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) || e.is_empty() || e.len() > 8 {
                return None;
            }
            // Rejects components aws-lc cannot form into a key, before they are ever used.
            RsaPublicKeyComponents {
                n: &n[..],
                e: &e[..],
            }
            .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
            .ok()?;
            ClientKey::Rsa { n, e }
        }
        ("EC", Some("P-256")) => ec_key(
            JwsAlg::ES256,
            &signature::ECDSA_P256_SHA256_FIXED,
            32,
            member("x")?,
            member("y")?,
        )?,
        ("EC", Some("P-384")) => ec_key(
            JwsAlg::ES384,
            &signature::ECDSA_P384_SHA384_FIXED,
            48,
            member("x")?,
            member("y")?,
        )?,
        ("OKP", Some("Ed25519")) => {
            let x = member("x")?;
            if x.len() != 32 {
                return None;
            }
            ClientKey::Ed25519(ParsedPublicKey::new(&signature::ED25519, x).ok()?)
        }
        _ => return None,
    };
    Some(Jwk { kid, alg, key })
}

/// RFC 7518 section 6.2.1.2: coordinates are full length; the point must be on the curve,
/// which `ParsedPublicKey::new` checks.
fn ec_key(
    alg: JwsAlg,
    verification: &'static EcdsaVerificationAlgorithm,
    coord_len: usize,
    x: Vec<u8>,
    y: Vec<u8>,
) -> Option<ClientKey> {
    if x.len() != coord_len || y.len() != coord_len {
        return None;
    }
    let mut point = Vec::with_capacity(1 + 2 * coord_len);
    point.push(0x04); // SEC 1 uncompressed point
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    let key = ParsedPublicKey::new(verification, point).ok()?;
    Some(ClientKey::Ec { alg, key })
}

fn strip_leading_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    v.drain(..zeros);
    v
}

fn bit_len(be: &[u8]) -> usize {
    match be.first() {
        Some(first) => (be.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::b64url;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
    use serde_json::json;

    fn rsa_jwk(bits: KeySize) -> Value {
        let pair = RsaKeyPair::generate(bits).unwrap();
        let pk = pair.public_key();
        json!({
            "kty": "RSA",
            "n": b64url(pk.modulus().big_endian_without_leading_zero()),
            "e": b64url(pk.exponent().big_endian_without_leading_zero()),
        })
    }

    fn ec_jwk() -> Value {
        let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": b64url(&point[1..33]), "y": b64url(&point[33..])})
    }

    #[test]
    fn parses_usable_keys_and_skips_the_rest() {
        let mut enc = ec_jwk();
        enc["use"] = "enc".into();
        let doc =
            json!({"keys": [rsa_jwk(KeySize::Rsa2048), ec_jwk(), enc, {"kty": "oct-ish"}, 5]});
        let set = parse_jwks(&doc.to_string()).unwrap();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn refuses_private_members() {
        let mut key = ec_jwk();
        key["d"] = "AAAA".into();
        let err = parse_jwks(&json!({"keys": [key]}).to_string()).unwrap_err();
        assert!(matches!(err, KeyError::Invalid(m) if m.contains("private")));
        let oct = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        assert!(parse_jwks(&oct.to_string()).is_err());
    }

    #[test]
    fn refuses_sets_without_usable_keys() {
        for doc in [
            "not json",
            "[]",
            r#"{"keys": []}"#,
            r#"{"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}]}"#,
        ] {
            assert!(parse_jwks(doc).is_err(), "{doc}");
        }
    }

    #[test]
    fn skips_rsa_keys_under_2048_bits() {
        // aws-lc-rs cannot generate a 1024-bit key, so shorten a real modulus instead.
        let mut key = rsa_jwk(KeySize::Rsa2048);
        let n = b64url_decode(key["n"].as_str().unwrap()).unwrap();
        key["n"] = b64url(&n[..128]).into();
        assert!(parse_jwks(&json!({"keys": [key]}).to_string()).is_err());
    }

    #[test]
    fn key_alg_member_restricts_use() {
        let mut key = rsa_jwk(KeySize::Rsa2048);
        key["alg"] = "PS256".into();
        let set = parse_jwks(&json!({"keys": [key]}).to_string()).unwrap();
        assert!(set.keys()[0].fits(JwsAlg::PS256));
        assert!(!set.keys()[0].fits(JwsAlg::RS256));
        assert!(!set.keys()[0].fits(JwsAlg::ES256));
    }

    #[test]
    fn ed25519_keys_are_usable() {
        let pair = Ed25519KeyPair::generate().unwrap();
        let key = json!({"kty": "OKP", "crv": "Ed25519", "kid": "e", "x": b64url(pair.public_key().as_ref())});
        let set = parse_jwks(&json!({"keys": [key]}).to_string()).unwrap();
        assert!(set.contains_kid("e"));
        let sig = pair.sign(b"msg");
        assert!(set.keys()[0].verify(JwsAlg::EdDSA, b"msg", sig.as_ref()));
        assert!(!set.keys()[0].verify(JwsAlg::EdDSA, b"msh", sig.as_ref()));
    }
}
