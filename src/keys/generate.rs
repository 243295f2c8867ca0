//! Latchkey's own signing keys: generating them (RS256: RSA 2048, ES256: P-256, EdDSA:
//! Ed25519), their storage format (PKCS#8 DER sealed with the master key, the public JWK
//! beside it, RFC 7638 thumbprint as kid), and opening a stored key into a parsed key pair
//! that signs without further parsing.
//!
//! Like all of `keys/`, this must not import axum or sea_orm.
use anyhow::{Context, bail};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey, RsaKeyPair,
    RsaPublicKeyComponents,
};
use serde_json::{Value, json};

use super::repository::StoredKey;
use crate::crypto::{MasterKey, b64url, b64url_decode, sha256};
use crate::domain::SigningAlg;

/// The public half of one of Latchkey's own signing keys, as raw JWK members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicMembers {
    /// Modulus and exponent, big-endian without leading zeros (RFC 7518 section 6.3.1).
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// P-256 coordinates, 32 bytes each (RFC 7518 section 6.2.1).
    P256 { x: Vec<u8>, y: Vec<u8> },
    /// The 32-byte public key (RFC 8037 section 2).
    Ed25519 { x: Vec<u8> },
}

impl PublicMembers {
    /// RFC 7638 section 3: SHA-256 over the required members in lexicographic order, without
    /// whitespace. Written out by hand so the result does not depend on serde_json's map order.
    pub(crate) fn thumbprint(&self) -> String {
        let canonical = match self {
            Self::Rsa { n, e } => {
                format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b64url(e), b64url(n))
            }
            Self::P256 { x, y } => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                b64url(x),
                b64url(y)
            ),
            Self::Ed25519 { x } => {
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64url(x))
            }
        };
        b64url(&sha256(canonical.as_bytes()))
    }

    /// The published JWK: public members only, plus kid, use and alg (RFC 7517 section 4).
    pub(crate) fn to_jwk(&self, kid: &str, alg: SigningAlg) -> Value {
        let mut jwk = match self {
            Self::Rsa { n, e } => json!({"kty": "RSA", "n": b64url(n), "e": b64url(e)}),
            Self::P256 { x, y } => {
                json!({"kty": "EC", "crv": "P-256", "x": b64url(x), "y": b64url(y)})
            }
            Self::Ed25519 { x } => json!({"kty": "OKP", "crv": "Ed25519", "x": b64url(x)}),
        };
        if let Value::Object(m) = &mut jwk {
            m.insert("kid".into(), kid.into());
            m.insert("use".into(), "sig".into());
            m.insert("alg".into(), alg.as_str().into());
        }
        jwk
    }

    /// Reads the key members back from a stored JWK (used to check that a stored public JWK
    /// belongs to its private key).
    pub(crate) fn from_jwk(jwk: &Value) -> Option<Self> {
        let member = |name: &str| jwk.get(name)?.as_str().and_then(b64url_decode);
        match (
            jwk.get("kty")?.as_str()?,
            jwk.get("crv").and_then(Value::as_str),
        ) {
            ("RSA", _) => Some(Self::Rsa {
                n: member("n")?,
                e: member("e")?,
            }),
            ("EC", Some("P-256")) => Some(Self::P256 {
                x: member("x")?,
                y: member("y")?,
            }),
            ("OKP", Some("Ed25519")) => Some(Self::Ed25519 { x: member("x")? }),
            _ => None,
        }
    }
}

/// A parsed private key.
enum Pair {
    Rsa(RsaKeyPair),
    /// Signs in the fixed r || s form JWS requires (RFC 7518 section 3.4).
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Pair {
    fn generate(alg: SigningAlg) -> anyhow::Result<Self> {
        let failed = || format!("failed to generate a {alg} key pair");
        Ok(match alg {
            SigningAlg::RS256 => Self::Rsa(
                RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow::anyhow!(failed()))?,
            ),
            SigningAlg::ES256 => Self::Ec(
                EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| anyhow::anyhow!(failed()))?,
            ),
            SigningAlg::EdDSA => {
                Self::Ed(Ed25519KeyPair::generate().map_err(|_| anyhow::anyhow!(failed()))?)
            }
        })
    }

    fn from_pkcs8(alg: SigningAlg, der: &[u8]) -> anyhow::Result<Self> {
        let rejected = |e: aws_lc_rs::error::KeyRejected| {
            anyhow::anyhow!("not a valid {alg} PKCS#8 private key: {e}")
        };
        Ok(match alg {
            SigningAlg::RS256 => Self::Rsa(RsaKeyPair::from_pkcs8(der).map_err(rejected)?),
            SigningAlg::ES256 => Self::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(rejected)?,
            ),
            SigningAlg::EdDSA => Self::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(rejected)?),
        })
    }

    fn to_pkcs8(&self) -> anyhow::Result<Vec<u8>> {
        let der = match self {
            Self::Rsa(p) => p.as_der().map(|d| d.as_ref().to_vec()),
            Self::Ec(p) => p.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
            Self::Ed(p) => p.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
        };
        der.map_err(|_| anyhow::anyhow!("failed to encode a private key as PKCS#8"))
    }

    fn public_members(&self) -> PublicMembers {
        match self {
            Self::Rsa(p) => PublicMembers::Rsa {
                n: p.public_key()
                    .modulus()
                    .big_endian_without_leading_zero()
                    .to_vec(),
                e: p.public_key()
                    .exponent()
                    .big_endian_without_leading_zero()
                    .to_vec(),
            },
            Self::Ec(p) => {
                // SEC 1 uncompressed point: 0x04 || x || y, 32 bytes each on P-256.
                let point = p.public_key().as_ref();
                PublicMembers::P256 {
                    x: point[1..33].to_vec(),
                    y: point[33..65].to_vec(),
                }
            }
            Self::Ed(p) => PublicMembers::Ed25519 {
                x: p.public_key().as_ref().to_vec(),
            },
        }
    }

    /// The verifier for tokens this key signed, parsed once.
    fn verifier(&self) -> anyhow::Result<ParsedPublicKey> {
        let parsed = match self {
            Self::Rsa(p) => RsaPublicKeyComponents {
                n: p.public_key().modulus().big_endian_without_leading_zero(),
                e: p.public_key().exponent().big_endian_without_leading_zero(),
            }
            .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256),
            Self::Ec(p) => {
                ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p.public_key().as_ref())
            }
            Self::Ed(p) => ParsedPublicKey::new(&signature::ED25519, p.public_key().as_ref()),
        };
        parsed.map_err(|e| anyhow::anyhow!("failed to parse a public key: {e}"))
    }

    fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match self {
            Self::Rsa(p) => {
                let mut sig = vec![0; p.public_modulus_len()];
                p.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| anyhow::anyhow!("RSA signing failed"))?;
                Ok(sig)
            }
            Self::Ec(p) => Ok(p
                .sign(&rng, message)
                .map_err(|_| anyhow::anyhow!("ECDSA signing failed"))?
                .as_ref()
                .to_vec()),
            Self::Ed(p) => Ok(p.sign(message).as_ref().to_vec()),
        }
    }
}

/// Generates a key pair for `alg` in its storage form. The kid is the RFC 7638 thumbprint of
/// the public key, and it is bound to the sealed private key as associated data.
pub fn generate(alg: SigningAlg, now: i64, master: &MasterKey) -> anyhow::Result<StoredKey> {
    let pair = Pair::generate(alg)?;
    let der = pair.to_pkcs8()?;
    let public = pair.public_members();
    let kid = public.thumbprint();
    Ok(StoredKey {
        public_jwk: public.to_jwk(&kid, alg).to_string(),
        private_sealed: master.seal(&der, &kid),
        kid,
        alg,
        created_at: now,
        retired_at: None,
        activates_at: now,
    })
}

/// A stored key decrypted and parsed once, ready to sign and verify. Its dates live in the
/// key ring, which reuses this across reloads while `retired_at` changes.
pub(crate) struct SigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    /// The published JWK, derived from the private key itself.
    pub public_jwk: Value,
    pair: Pair,
    verifier: ParsedPublicKey,
}

impl SigningKey {
    /// Decrypts and parses a stored key. Fails when the master key is not the one the key was
    /// sealed with, or when the stored public JWK does not belong to the private key.
    pub fn open(stored: &StoredKey, master: &MasterKey) -> anyhow::Result<Self> {
        let kid = &stored.kid;
        let der = master
            .open(&stored.private_sealed, kid)
            .with_context(|| format!("failed to decrypt signing key {kid} (wrong master key?)"))?;
        let pair = Pair::from_pkcs8(stored.alg, &der)
            .with_context(|| format!("failed to parse signing key {kid}"))?;
        let public = pair.public_members();
        let stored_public = serde_json::from_str::<Value>(&stored.public_jwk)
            .ok()
            .and_then(|jwk| PublicMembers::from_jwk(&jwk));
        if stored_public.as_ref() != Some(&public) {
            bail!("the stored public JWK of signing key {kid} does not match its private key");
        }
        let verifier = pair
            .verifier()
            .with_context(|| format!("failed to parse the public key of signing key {kid}"))?;
        Ok(Self {
            kid: kid.clone(),
            alg: stored.alg,
            public_jwk: public.to_jwk(kid, stored.alg),
            pair,
            verifier,
        })
    }

    /// The raw JWS signature of `message` (RFC 7518 sections 3.3, 3.4; RFC 8037 section 3.1).
    pub fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        self.pair.sign(message)
    }

    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifier.verify_sig(message, signature).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 section 3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let members = PublicMembers::Rsa {
            n: b64url_decode(n).unwrap(),
            e: b64url_decode("AQAB").unwrap(),
        };
        assert_eq!(
            members.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn own_jwk_round_trips_its_members() {
        let members = PublicMembers::Ed25519 { x: vec![7; 32] };
        let jwk = members.to_jwk("k1", SigningAlg::EdDSA);
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["alg"], "EdDSA");
        assert_eq!(PublicMembers::from_jwk(&jwk), Some(members));
    }

    #[test]
    fn generated_keys_open_sign_and_verify() {
        let master = MasterKey::generate();
        for alg in SigningAlg::ALL {
            let stored = generate(alg, 100, &master).unwrap();
            assert_eq!(stored.alg, alg);
            assert_eq!(stored.created_at, 100);
            assert!(stored.retired_at.is_none());
            let jwk: Value = serde_json::from_str(&stored.public_jwk).unwrap();
            assert_eq!(jwk["kid"], stored.kid.as_str());
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["use"], "sig");
            let key = SigningKey::open(&stored, &master).unwrap();
            assert_eq!(key.public_jwk, jwk);
            let sig = key.sign(b"message").unwrap();
            assert!(key.verify(b"message", &sig));
            assert!(!key.verify(b"massage", &sig));
            if alg == SigningAlg::ES256 {
                assert_eq!(sig.len(), 64, "JWS ES256 signatures are r || s");
            }
        }
    }

    #[test]
    fn kid_is_the_rfc_7638_thumbprint() {
        let stored = generate(SigningAlg::ES256, 0, &MasterKey::generate()).unwrap();
        let jwk: Value = serde_json::from_str(&stored.public_jwk).unwrap();
        let members = PublicMembers::from_jwk(&jwk).unwrap();
        assert_eq!(stored.kid, members.thumbprint());
        assert_eq!(stored.kid.len(), 43);
    }

    #[test]
    fn wrong_master_key_fails_naming_the_kid() {
        let stored = generate(SigningAlg::EdDSA, 0, &MasterKey::generate()).unwrap();
        let err = SigningKey::open(&stored, &MasterKey::generate())
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains(&stored.kid));
    }

    #[test]
    fn mismatched_public_jwk_is_refused() {
        let master = MasterKey::generate();
        let mut a = generate(SigningAlg::EdDSA, 0, &master).unwrap();
        let b = generate(SigningAlg::EdDSA, 0, &master).unwrap();
        a.public_jwk = b.public_jwk;
        assert!(SigningKey::open(&a, &master).is_err());
    }
}
