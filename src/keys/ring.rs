//! The key ring: Latchkey's signing keys decrypted and parsed once, shared by every request
//! (`Arc<KeyRing>`). Signing and verifying read an immutable snapshot behind a briefly held
//! `std::sync::RwLock`, so they never await and never parse a key; `reload` (periodic, and
//! after `rotate`) swaps in a new snapshot. The JWK Set is serialized once per snapshot.
//!
//! Like all of `keys/`, this must not import axum or sea_orm: storage is reached only through
//! `KeyRepository`.
use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use super::generate::{SigningKey, generate};
use super::jws::{VerifiedJws, sign_compact, split};
use super::repository::{KeyRepository, StoredKey};
use crate::audit;
use crate::crypto::MasterKey;
use crate::domain::SigningAlg;

/// What the CLI shows about a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: SigningAlg,
    pub created_at: i64,
    pub activates_at: i64,
    pub retired_at: Option<i64>,
}

/// One published key: its parsed form (shared across snapshots) and its current dates.
struct Entry {
    key: Arc<SigningKey>,
    created_at: i64,
    activates_at: i64,
    retired_at: Option<i64>,
}

/// The keys as of one reload, newest first. Never mutated.
#[derive(Default)]
struct Snapshot {
    entries: Vec<Entry>,
    by_kid: HashMap<String, usize>,
    /// The JWK Set document, shared by every response (a clone is a reference count).
    jwks: Bytes,
}

impl Snapshot {
    /// Keeps keys that are active or retired less than `retention_secs` ago, parsing only
    /// those `previous` does not already hold.
    fn build(
        stored: Vec<StoredKey>,
        previous: &Snapshot,
        master: &MasterKey,
        retention_secs: i64,
        now: i64,
    ) -> anyhow::Result<Self> {
        let mut entries = Vec::with_capacity(stored.len());
        // Oldest first from the repository; keep that order as the tie-breaker for equal times.
        for (pos, s) in stored.iter().enumerate() {
            if s.retired_at
                .is_some_and(|r| r.saturating_add(retention_secs) < now)
            {
                continue;
            }
            let reused = previous
                .by_kid
                .get(&s.kid)
                .map(|&i| &previous.entries[i].key)
                .filter(|k| k.alg == s.alg)
                .cloned();
            let key = match reused {
                Some(key) => key,
                None => Arc::new(SigningKey::open(s, master)?),
            };
            entries.push((
                pos,
                Entry {
                    key,
                    created_at: s.created_at,
                    activates_at: s.activates_at,
                    retired_at: s.retired_at,
                },
            ));
        }
        entries.sort_by(|(pa, a), (pb, b)| (b.created_at, pb).cmp(&(a.created_at, pa)));
        let entries: Vec<Entry> = entries.into_iter().map(|(_, e)| e).collect();
        let mut by_kid = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            by_kid.entry(e.key.kid.clone()).or_insert(i);
        }
        // RFC 7517 section 5: {"keys": [...]}, public members only.
        let keys: Vec<&Value> = entries.iter().map(|e| &e.key.public_jwk).collect();
        let jwks = Bytes::from(serde_json::json!({ "keys": keys }).to_string());
        Ok(Self {
            entries,
            by_kid,
            jwks,
        })
    }

    /// The newest key of `alg` that is active at `now`: activated, and not retired (a key
    /// being replaced is retired from the moment its successor activates).
    fn signer(&self, alg: SigningAlg, now: i64) -> Option<&SigningKey> {
        self.entries
            .iter()
            .find(|e| {
                e.key.alg == alg && e.activates_at <= now && e.retired_at.is_none_or(|r| r > now)
            })
            .map(|e| &*e.key)
    }
}

pub struct KeyRing {
    repo: Arc<dyn KeyRepository>,
    master: MasterKey,
    retention_secs: i64,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Serializes reloads so that a slower, older read never replaces a newer snapshot.
    reload_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("keys", &self.list())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Opens every stored key (a wrong master key fails here, naming the key), creates a key
    /// for each algorithm that has no active one (so the first start creates them), and
    /// returns the loaded ring.
    pub async fn load(
        repo: Arc<dyn KeyRepository>,
        master: MasterKey,
        retention_secs: i64,
    ) -> anyhow::Result<Arc<KeyRing>> {
        let ring = KeyRing {
            repo,
            master,
            retention_secs,
            snapshot: RwLock::new(Arc::default()),
            reload_lock: tokio::sync::Mutex::new(()),
        };
        // Open the existing keys before adding any, so a wrong master key adds nothing.
        ring.reload().await?;
        let snapshot = ring.current();
        let now = now();
        let mut created = false;
        for alg in SigningAlg::ALL {
            if snapshot.signer(alg, now).is_none() {
                let key = generate(alg, now, &ring.master)?;
                ring.repo
                    .insert_signing_key(&key)
                    .await
                    .with_context(|| format!("failed to store a new {alg} signing key"))?;
                tracing::info!(kid = %key.kid, %alg, "generated a signing key");
                created = true;
            }
        }
        if created {
            ring.reload().await?;
        }
        Ok(Arc::new(ring))
    }

    /// Reads the keys again (another node or `latchkey keys rotate` may have added or retired
    /// some). Keys already parsed are reused by kid; keys retired longer than the retention
    /// period are dropped. On error the previous keys stay in use.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let _guard = self.reload_lock.lock().await;
        let stored = self
            .repo
            .list_signing_keys()
            .await
            .context("failed to list signing keys")?;
        let previous = self.current();
        let next = Snapshot::build(stored, &previous, &self.master, self.retention_secs, now())?;
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(())
    }

    /// Replaces the signing key of every algorithm (see `rotate_keys`) and reloads. Returns
    /// the new kids.
    pub async fn rotate(&self, activation_delay: i64) -> anyhow::Result<Vec<String>> {
        let created = rotate_keys(
            &*self.repo,
            &self.master,
            self.retention_secs,
            activation_delay,
        )
        .await?;
        self.reload().await?;
        Ok(created.into_iter().map(|k| k.kid).collect())
    }

    /// A compact JWS with the header {"alg","typ","kid"}, signed by the newest active key of
    /// `alg`.
    pub fn sign(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &impl serde::Serialize,
    ) -> anyhow::Result<String> {
        let snapshot = self.current();
        let key = snapshot
            .signer(alg, now())
            .with_context(|| format!("no active {alg} signing key"))?;
        sign_compact(alg.as_str(), typ, &key.kid, claims, |m| key.sign(m))
    }

    /// Verifies a token this server signed with a published key (active, or retired within the
    /// retention period) whose alg is the header's. `None` on any problem. Claims, including
    /// `exp`, are left to the caller.
    pub fn verify(&self, token: &str) -> Option<VerifiedJws> {
        let compact = split(token).ok()?;
        let alg = compact.alg().ok()?;
        let kid = compact.kid().ok()??;
        let snapshot = self.current();
        let key = &snapshot.entries[*snapshot.by_kid.get(kid)?].key;
        // RFC 8725 section 3.1: the key decides the algorithm, never the token alone.
        if key.alg.as_str() != alg
            || !key.verify(compact.signing_input.as_bytes(), &compact.signature)
        {
            return None;
        }
        Some(VerifiedJws {
            claims: compact.claims().ok()?,
            header: compact.header_value(),
        })
    }

    /// The JWK Set document (RFC 7517 section 5) of all published keys, newest first.
    pub fn jwks_json(&self) -> Bytes {
        self.current().jwks.clone()
    }

    /// Published keys, newest first.
    pub fn list(&self) -> Vec<KeyInfo> {
        self.current()
            .entries
            .iter()
            .map(|e| KeyInfo {
                kid: e.key.kid.clone(),
                alg: e.key.alg,
                created_at: e.created_at,
                activates_at: e.activates_at,
                retired_at: e.retired_at,
            })
            .collect()
    }

    /// Reloads every `interval`, logging failures and carrying on. The task ends once the ring
    /// has been dropped everywhere else.
    pub fn spawn_reloader(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        self.spawn_maintainer(interval, None)
    }

    /// `spawn_reloader`, and before each reload the automatic rotation of `policy` (see
    /// `rotate_due_keys`).
    pub fn spawn_maintainer(
        self: &Arc<Self>,
        interval: Duration,
        policy: Option<RotationPolicy>,
    ) -> tokio::task::JoinHandle<()> {
        let ring: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await; // the first tick is immediate; the ring was just loaded
            loop {
                ticks.tick().await;
                let Some(ring) = ring.upgrade() else { break };
                if let Some(policy) = policy
                    && let Err(e) = rotate_due_keys(&*ring.repo, &ring.master, policy, now()).await
                {
                    tracing::warn!(error = format!("{e:#}"), "automatic key rotation failed");
                }
                if let Err(e) = ring.reload().await {
                    tracing::warn!(error = format!("{e:#}"), "failed to reload signing keys");
                }
            }
        })
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// When keys rotate by themselves, and how far ahead a successor is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Seconds a key signs before its successor takes over; 0 turns automatic rotation off.
    pub period: i64,
    /// Seconds a successor is published before it signs: at least one JWKS cache lifetime
    /// (`jwks_max_age` + `reload_interval`), so verifiers already hold it.
    pub prepublish: i64,
    /// Seconds a retired key stays published: until every token it signed has expired.
    pub retention: i64,
}

/// Key rotation without a ring (for the CLI): for every algorithm a new key is stored, to be
/// used for signing `activation_delay` seconds from now (it is published at once), and the
/// others of that algorithm are retired as of that moment (they stay published for
/// `retention_secs` after it); keys retired longer ago than that are deleted. Returns the new
/// keys. A delay of 0 switches at once (after a key compromise, say).
///
/// The master key is first checked against the active keys, so that a CLI run with the wrong
/// master key cannot store keys the servers would fail to open.
pub async fn rotate_keys(
    repo: &dyn KeyRepository,
    master: &MasterKey,
    retention_secs: i64,
    activation_delay: i64,
) -> anyhow::Result<Vec<StoredKey>> {
    let existing = list_checked(repo, master).await?;
    let now = now();
    let mut created = Vec::with_capacity(SigningAlg::ALL.len());
    for alg in SigningAlg::ALL {
        if let Some(key) = rotate_one(
            repo,
            master,
            alg,
            &existing,
            now,
            activation_delay,
            audit::ACTOR_CLI,
        )
        .await?
        {
            created.push(key);
        }
    }
    delete_expired(repo, now, retention_secs).await?;
    Ok(created)
}

/// `latchkey keys rotate --emergency`: new keys sign at once and every other key is deleted,
/// so it disappears from the JWKS at each node's next reload. Tokens signed with the old
/// keys stop verifying: this is for a key compromise. Returns the new keys.
pub async fn emergency_rotate_keys(
    repo: &dyn KeyRepository,
    master: &MasterKey,
) -> anyhow::Result<Vec<StoredKey>> {
    let created = rotate_keys(repo, master, 0, 0).await?;
    let withdrawn = repo
        .delete_signing_keys_retired_before(now().saturating_add(1))
        .await
        .context("failed to withdraw the replaced signing keys")?;
    audit::Event::new(audit::Kind::KeyRemoved)
        .actor(audit::ACTOR_CLI)
        .reason(&format!("emergency rotation withdrew {withdrawn} keys"))
        .emit();
    Ok(created)
}

/// Automatic rotation, run by every node now and then: for each algorithm whose newest key
/// has signed for `policy.period` less the pre-publication time, a successor is published
/// that signs `policy.prepublish` seconds from now. The database decides which node's
/// successor it is (`insert_successor_key`), so exactly one rotation happens. Keys past
/// their retention are deleted. Returns the new keys.
pub async fn rotate_due_keys(
    repo: &dyn KeyRepository,
    master: &MasterKey,
    policy: RotationPolicy,
    now: i64,
) -> anyhow::Result<Vec<StoredKey>> {
    let mut created = Vec::new();
    if policy.period > 0 {
        let existing = repo
            .list_signing_keys()
            .await
            .context("failed to list signing keys")?;
        for alg in SigningAlg::ALL {
            let newest = existing
                .iter()
                .filter(|k| k.alg == alg)
                .map(|k| k.activates_at)
                .max();
            let due = newest.is_some_and(|activated| {
                activated.saturating_add(policy.period) <= now.saturating_add(policy.prepublish)
            });
            if due
                && let Some(key) = rotate_one(
                    repo,
                    master,
                    alg,
                    &existing,
                    now,
                    policy.prepublish,
                    audit::ACTOR_SERVER,
                )
                .await?
            {
                created.push(key);
            }
        }
    }
    delete_expired(repo, now, policy.retention).await?;
    Ok(created)
}

/// Every stored key, after checking the master key opens the unretired ones.
async fn list_checked(
    repo: &dyn KeyRepository,
    master: &MasterKey,
) -> anyhow::Result<Vec<StoredKey>> {
    let existing = repo
        .list_signing_keys()
        .await
        .context("failed to list signing keys")?;
    for key in existing.iter().filter(|k| k.retired_at.is_none()) {
        master
            .open(&key.private_sealed, &key.kid)
            .with_context(|| {
                format!(
                    "failed to decrypt signing key {} (wrong master key?)",
                    key.kid
                )
            })?;
    }
    Ok(existing)
}

/// Stores a successor to the newest unretired key of `alg`, signing `delay` seconds from
/// `now`. `None` when another node replaced that key first.
async fn rotate_one(
    repo: &dyn KeyRepository,
    master: &MasterKey,
    alg: SigningAlg,
    existing: &[StoredKey],
    now: i64,
    delay: i64,
    actor: &str,
) -> anyhow::Result<Option<StoredKey>> {
    let predecessor = existing
        .iter()
        .filter(|k| k.alg == alg && k.retired_at.is_none())
        .max_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)));
    let mut key = generate(alg, now, master)?;
    key.activates_at = now.saturating_add(delay.max(0));
    let stored = repo
        .insert_successor_key(&key, predecessor.map(|k| k.kid.as_str()))
        .await
        .with_context(|| format!("failed to store a new {alg} signing key"))?;
    if !stored {
        return Ok(None);
    }
    audit::Event::new(audit::Kind::KeyRotated)
        .key(&key.kid, alg.as_str())
        .actor(actor)
        .emit();
    Ok(Some(key))
}

async fn delete_expired(repo: &dyn KeyRepository, now: i64, retention: i64) -> anyhow::Result<()> {
    let deleted = repo
        .delete_signing_keys_retired_before(now.saturating_sub(retention))
        .await
        .context("failed to delete expired signing keys")?;
    if deleted > 0 {
        audit::Event::new(audit::Kind::KeyRemoved)
            .reason(&format!("{deleted} keys past their retention period"))
            .emit();
    }
    Ok(())
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "ring_tests.rs"]
mod tests;
