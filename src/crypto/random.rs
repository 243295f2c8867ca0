use aws_lc_rs::rand::{SecureRandom, SystemRandom};

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the system random number generator failed");
    buf
}

/// A URL-safe random token with 256 bits of entropy (43 characters).
pub fn random_token() -> String {
    super::b64url(&random_bytes::<32>())
}
