use aws_lc_rs::{digest, hmac};

use super::{MasterKey, b64url, ct_eq};

/// Keyed hash (HMAC-SHA256) for high-entropy secrets: client secrets, refresh tokens,
/// authorization codes, session ids. These have at least 128 bits of entropy, so a slow
/// password hash adds nothing but latency; the key (derived from the master key) means a
/// leaked database alone does not let anyone check guesses offline.
#[derive(Clone)]
pub struct SecretHasher {
    key: hmac::Key,
}

impl SecretHasher {
    pub fn new(master: &MasterKey) -> Self {
        let derived = master.derive(b"latchkey/secret-hash/v1");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &derived),
        }
    }

    /// The stored form: base64url of the HMAC tag.
    pub fn hash(&self, secret: &str) -> String {
        b64url(hmac::sign(&self.key, secret.as_bytes()).as_ref())
    }

    /// Compares in constant time.
    pub fn verify(&self, secret: &str, stored: &str) -> bool {
        let tag = hmac::sign(&self.key, secret.as_bytes());
        ct_eq(b64url(tag.as_ref()).as_bytes(), stored.as_bytes())
    }
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

pub fn sha256_b64url(data: &[u8]) -> String {
    b64url(&sha256(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_secret_and_key() {
        let h = SecretHasher::new(&MasterKey::from_bytes([7; 32]));
        let stored = h.hash("s3cret-value");
        assert!(h.verify("s3cret-value", &stored));
        assert!(!h.verify("s3cret-valuE", &stored));
        let other = SecretHasher::new(&MasterKey::from_bytes([8; 32]));
        assert!(!other.verify("s3cret-value", &stored));
    }
}
