//! Small cryptographic building blocks on aws-lc-rs and argon2: random tokens, the master
//! key and sealing with it, keyed hashes for client secrets and opaque tokens, and password
//! hashes. No I/O except reading or creating the master key file.
mod master_key;
mod password;
mod random;
mod secret_hash;
mod work_memory;

pub use master_key::{MasterKey, Sealer};
pub use password::{PasswordHasher, hash_password, verify_password};
pub use random::{random_bytes, random_token};
pub use secret_hash::{SecretHasher, sha256, sha256_b64url};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Appends the base64url (unpadded) encoding of `bytes` to `out`.
pub fn b64url_append(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_string(bytes, out)
}

/// The length of the base64url (unpadded) encoding of `len` bytes.
pub fn b64url_len(len: usize) -> usize {
    (len * 4).div_ceil(3)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// Constant-time byte comparison.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_base64url_has_the_predicted_length() {
        for n in 0..40 {
            let bytes = vec![0xa5u8; n];
            let mut out = String::from("x.");
            b64url_append(&bytes, &mut out);
            assert_eq!(out.len(), 2 + b64url_len(n), "{n} bytes");
            assert_eq!(&out[2..], b64url(&bytes));
        }
    }
}
