use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// argon2id with the OWASP Password Storage Cheat Sheet parameters
/// (m = 19 MiB, t = 2, p = 1).
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A hash of a random password, verified against when the user does not exist so that
    /// unknown and known usernames cost the same.
    dummy_hash: String,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new(19 * 1024, 2, 1)
    }
}

impl PasswordHasher {
    pub fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Self {
        let params = Params::new(m_cost_kib, t_cost, p_cost, None).expect("valid argon2 params");
        let mut me = Self {
            params,
            dummy_hash: String::new(),
        };
        me.dummy_hash = me
            .hash(&super::random_token())
            .expect("hashing a random password");
        me
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub fn hash(&self, password: &str) -> anyhow::Result<String> {
        let salt = SaltString::encode_b64(&super::random_bytes::<16>())
            .map_err(|e| anyhow::anyhow!("salt encoding failed: {e}"))?;
        let hash = self
            .argon2()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?;
        Ok(hash.to_string())
    }

    /// Verifies against the stored hash, or against a dummy hash when there is none, so the
    /// cost is the same either way. Returns true only for a stored hash that matches.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let target = stored.unwrap_or(&self.dummy_hash);
        let ok = match PasswordHash::new(target) {
            Ok(parsed) => self
                .argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        };
        ok && stored.is_some()
    }
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    PasswordHasher::default().hash(password)
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHasher::default().verify(password, Some(stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = PasswordHasher::new(1024, 1, 1);
        let stored = h.hash("correct horse").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(h.verify("correct horse", Some(&stored)));
        assert!(!h.verify("wrong", Some(&stored)));
        assert!(!h.verify("anything", None));
    }
}
