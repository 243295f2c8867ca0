//! The storage port for signing keys. `store` implements it; the key ring only reads and
//! writes through it.
use async_trait::async_trait;

use crate::domain::SigningAlg;

/// One signing key as stored: the private key is sealed with the master key
/// (`MasterKey::seal(pkcs8_der, kid)`), the public part is a JWK (JSON text).
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub public_jwk: String,
    pub private_sealed: String,
    pub created_at: i64,
    /// Set when a newer key replaced this one for signing; it stays published in the JWKS
    /// for `keys.retired_key_retention` seconds after this.
    pub retired_at: Option<i64>,
    /// Signing uses the key only from this time on; before it, it is only published, so
    /// verifiers caching the JWKS see it before any token it signs.
    pub activates_at: i64,
}

#[async_trait]
pub trait KeyRepository: Send + Sync {
    /// Every stored key, retired or not, oldest first.
    async fn list_signing_keys(&self) -> anyhow::Result<Vec<StoredKey>>;
    async fn insert_signing_key(&self, key: &StoredKey) -> anyhow::Result<()>;
    /// Sets `retired_at = at` on every key of `alg` other than `keep_kid` that is not retired
    /// by then (unset, or set later than `at`).
    async fn retire_signing_keys(
        &self,
        alg: SigningAlg,
        keep_kid: &str,
        at: i64,
    ) -> anyhow::Result<()>;
    /// Stores `key` as the successor of `predecessor_kid` (the newest unretired key of its
    /// algorithm), in one transaction: the predecessor is retired as of `key.activates_at`
    /// only if it is not retired yet, then `key` is inserted and every other key of the
    /// algorithm is retired by that time too. Returns `false`, having written nothing, when
    /// the predecessor was already replaced: another node rotated first, so that with
    /// several nodes exactly one rotation happens. With no predecessor the key is inserted.
    async fn insert_successor_key(
        &self,
        key: &StoredKey,
        predecessor_kid: Option<&str>,
    ) -> anyhow::Result<bool>;
    /// Deletes keys retired before `before`.
    async fn delete_signing_keys_retired_before(&self, before: i64) -> anyhow::Result<u64>;
}
