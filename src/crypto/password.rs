use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::work_memory::WorkMemory;

/// argon2id with the OWASP Password Storage Cheat Sheet parameters
/// (m = 19 MiB, t = 2, p = 1).
///
/// Verification reuses its 19 MiB working memory: at most `slots` buffers (one per core by
/// default) are kept, and `verify_bounded` runs at most that many verifications at once, so
/// a burst of sign-ins costs CPU time, not one more 19 MiB allocation per request. Buffers
/// unused for a while are freed (`release_idle`), so the memory goes back once sign-ins stop.
/// On Linux each buffer is backed by huge pages where the kernel allows (`WorkMemory`).
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// A hash of a random password, verified against when the user does not exist so that
    /// unknown and known usernames cost the same. Made on first use (it costs one argon2id
    /// hash, which start-up need not wait for).
    dummy_hash: Arc<OnceLock<String>>,
    /// Working memory of finished verifications, ready for the next ones, with the time
    /// each was given back.
    spare: Arc<Mutex<Vec<Spare>>>,
    slots: usize,
    running: Arc<tokio::sync::Semaphore>,
}

/// One verification's working memory and when it was last given back.
type Spare = (WorkMemory, Instant);

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new(19 * 1024, 2, 1)
    }
}

impl PasswordHasher {
    pub fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Self {
        let params = Params::new(m_cost_kib, t_cost, p_cost, None).expect("valid argon2 params");
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            params,
            dummy_hash: Arc::default(),
            spare: Arc::default(),
            slots,
            running: Arc::new(tokio::sync::Semaphore::new(slots)),
        }
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

    fn dummy_hash(&self) -> &str {
        self.dummy_hash.get_or_init(|| {
            self.hash(&super::random_token())
                .expect("hashing a random password")
        })
    }

    /// Verifies against the stored hash, or against a dummy hash when there is none, so the
    /// cost is the same either way. Returns true only for a stored hash that matches.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let target = stored.unwrap_or_else(|| self.dummy_hash());
        let ok = PasswordHash::new(target)
            .ok()
            .is_some_and(|parsed| self.verify_parsed(password.as_bytes(), &parsed));
        ok && stored.is_some()
    }

    /// `verify` on a blocking thread, at most one per core at a time (argon2id is CPU-bound:
    /// more at once would only add memory and latency).
    pub async fn verify_bounded(
        &self,
        password: String,
        stored: Option<String>,
    ) -> anyhow::Result<bool> {
        let _permit = self
            .running
            .acquire()
            .await
            .map_err(|e| anyhow::anyhow!("password check queue closed: {e}"))?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.verify(&password, stored.as_deref()))
            .await
            .map_err(|e| anyhow::anyhow!("password check task failed: {e}"))
    }

    /// `hash` on a blocking thread, sharing `verify_bounded`'s limit of one per core.
    pub async fn hash_bounded(&self, password: String) -> anyhow::Result<String> {
        let _permit = self
            .running
            .acquire()
            .await
            .map_err(|e| anyhow::anyhow!("password hashing queue closed: {e}"))?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.hash(&password))
            .await
            .map_err(|e| anyhow::anyhow!("password hashing task failed: {e}"))?
    }

    /// What `PasswordVerifier::verify_password` does, with reused working memory: the
    /// parameters, salt and version come from the stored hash; the comparison is in
    /// constant time.
    fn verify_parsed(&self, password: &[u8], parsed: &PasswordHash<'_>) -> bool {
        if parsed.algorithm != argon2::ARGON2ID_IDENT {
            return false;
        }
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let Ok(params) = Params::try_from(parsed) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(v)) => v,
            Some(Err(_)) => return false,
        };
        let mut salt_buf = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
            return false;
        };
        let blocks = params.block_count();
        let mut memory = self.take_memory(blocks);
        let mut out = vec![0u8; expected.len()];
        let hashed = Argon2::new(Algorithm::Argon2id, version, params)
            .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..blocks])
            .is_ok();
        self.give_back(memory);
        hashed && super::ct_eq(&out, expected.as_bytes())
    }

    fn take_memory(&self, blocks: usize) -> WorkMemory {
        let spare = self.spare().pop();
        match spare {
            Some((m, _)) if m.len() >= blocks => m,
            _ => WorkMemory::new(blocks.max(self.params.block_count())),
        }
    }

    /// Keeps at most `slots` buffers of the configured size; others (a stored hash with a
    /// larger cost) are freed.
    fn give_back(&self, memory: WorkMemory) {
        if memory.len() != self.params.block_count() {
            return;
        }
        let mut spare = self.spare();
        if spare.len() < self.slots {
            spare.push((memory, Instant::now()));
        }
    }

    /// Frees the kept working memory that no verification has used for `idle`; returns how
    /// many buffers were freed. Each is a separate mapping, so freeing it returns it to the
    /// system at once.
    pub fn release_idle(&self, idle: Duration) -> usize {
        let mut spare = self.spare();
        let before = spare.len();
        spare.retain(|(_, since)| since.elapsed() < idle);
        before - spare.len()
    }

    fn spare(&self) -> std::sync::MutexGuard<'_, Vec<Spare>> {
        self.spare.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many working buffers are kept for the next verifications.
    pub fn kept_buffers(&self) -> usize {
        self.spare().len()
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

    #[test]
    fn verifies_hashes_made_with_other_parameters_and_rejects_other_algorithms() {
        let h = PasswordHasher::new(1024, 1, 1);
        let bigger = PasswordHasher::new(2048, 2, 1).hash("pw one").unwrap();
        assert!(h.verify("pw one", Some(&bigger)));
        assert!(!h.verify("pw two", Some(&bigger)));
        // Reused memory gives the same answers on the next calls.
        let own = h.hash("pw three").unwrap();
        for _ in 0..3 {
            assert!(h.verify("pw three", Some(&own)));
            assert!(!h.verify("pw four", Some(&own)));
        }
        let argon2i = own.replacen("$argon2id$", "$argon2i$", 1);
        assert!(!h.verify("pw three", Some(&argon2i)));
        assert!(!h.verify("pw three", Some("not a hash")));
    }

    #[test]
    fn idle_working_memory_is_freed_and_busy_memory_kept() {
        let h = PasswordHasher::new(1024, 1, 1);
        let own = h.hash("pw").unwrap();
        assert_eq!(h.kept_buffers(), 0);
        assert!(h.verify("pw", Some(&own)));
        assert_eq!(h.kept_buffers(), 1);
        assert_eq!(h.release_idle(Duration::from_secs(3600)), 0);
        assert_eq!(h.kept_buffers(), 1);
        assert_eq!(h.release_idle(Duration::ZERO), 1);
        assert_eq!(h.kept_buffers(), 0);
        // The next verification allocates again and answers the same.
        assert!(h.verify("pw", Some(&own)));
        assert!(!h.verify("other", Some(&own)));
        assert_eq!(h.kept_buffers(), 1);
    }

    #[tokio::test]
    async fn bounded_verification_agrees_with_verify() {
        let h = PasswordHasher::new(1024, 1, 1);
        let own = h.hash("pw").unwrap();
        let checks = (0..8).map(|i| {
            let h = h.clone();
            let stored = own.clone();
            async move {
                let pw = if i % 2 == 0 { "pw" } else { "nope" };
                h.verify_bounded(pw.into(), Some(stored)).await.unwrap()
            }
        });
        let results = futures_join_all(checks).await;
        assert_eq!(
            results,
            [true, false, true, false, true, false, true, false]
        );
        assert!(h.spare.lock().unwrap().len() <= h.slots);
    }

    async fn futures_join_all<F: std::future::Future<Output = bool> + Send + 'static>(
        fs: impl Iterator<Item = F>,
    ) -> Vec<bool> {
        let handles: Vec<_> = fs.map(tokio::spawn).collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    }
}
