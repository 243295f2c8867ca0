//! Per-node caches in front of two hot reads, each with a bound on staleness
//! (`config::CacheSettings`):
//!
//! * `ClientCache`: client records by id, reused for `client_ttl`, and read again by one
//!   request once half of that has passed (`crate::read_ahead`). Only clients that exist are
//!   cached (an unknown id is asked of the database every time, so a new client works at
//!   once and unknown ids cannot fill memory); changes made through this `Store` (the same
//!   process) drop the entry at once.
//! * `RevokedIds`: the ids of revoked, unexpired access tokens, reloaded every
//!   `revocation_refresh`; a revocation made through this `Store` is added at once. When
//!   the last successful reload is older than three intervals the cache answers nothing and
//!   the caller asks the database, so the bound holds even while reloads fail.
//!
//! No sea-orm here: `store/` fills and consults these around its queries.
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::oauth::model::Client;
use crate::read_ahead::{Entry, Lookup};

/// Entries above this are not added (the cache keeps serving the ones it has): a bound on
/// memory whatever the number of clients.
const MAX_CLIENTS: usize = 10_000;

pub(super) struct ClientCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, Entry<Arc<Client>>>>,
}

impl ClientCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::default(),
        }
    }

    /// The cached record of `id`; `Lookup::Refresh` once half of `client_ttl` has passed
    /// (`crate::read_ahead`): the caller reads the client again and `put`s it (or `forget`s
    /// it when it is gone).
    pub fn get(&self, id: &str) -> Lookup<Arc<Client>> {
        if self.ttl.is_zero() {
            return Lookup::Miss;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(id)
            .map_or(Lookup::Miss, |e| e.lookup(self.ttl, Instant::now()))
    }

    /// Remembers a client read at `read_at` (taken before the query, so the entry never
    /// outlives the bound).
    pub fn put(&self, client: &Arc<Client>, read_at: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CLIENTS {
            let now = Instant::now();
            entries.retain(|_, e| e.is_fresh(self.ttl, now));
            if entries.len() >= MAX_CLIENTS {
                return;
            }
        }
        entries.insert(
            client.id.as_str().to_owned(),
            Entry::new(Arc::clone(client), read_at),
        );
    }

    pub fn forget(&self, id: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

pub(super) struct RevokedIds {
    refresh: Duration,
    state: RwLock<Option<Loaded>>,
}

struct Loaded {
    ids: HashSet<String>,
    /// When the query of the last reload started.
    loaded_at: Instant,
    /// Revocations made here since, with when they were recorded: a reload that started
    /// before one of them may not have seen it, so it is carried over.
    recent: Vec<(Instant, String)>,
}

impl RevokedIds {
    pub fn new(refresh: Duration) -> Self {
        Self {
            refresh,
            state: RwLock::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.refresh.is_zero()
    }

    pub fn refresh_interval(&self) -> Duration {
        self.refresh
    }

    /// `Some(revoked?)` when the cache is loaded and fresh; `None`: ask the database.
    pub fn lookup(&self, jti: &str) -> Option<bool> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let loaded = state.as_ref()?;
        (loaded.loaded_at.elapsed() < self.refresh * 3).then(|| loaded.ids.contains(jti))
    }

    /// Records a revocation this node has just written to the database.
    pub fn add(&self, jti: &str) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if let Some(loaded) = state.as_mut() {
            loaded.ids.insert(jti.to_owned());
            loaded.recent.push((Instant::now(), jti.to_owned()));
        }
    }

    /// Replaces the set with `ids`, read by a query that started at `started`, keeping the
    /// local revocations that query may have missed.
    pub fn replace(&self, mut ids: HashSet<String>, started: Instant) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let mut recent = state.take().map(|l| l.recent).unwrap_or_default();
        // Recorded before the query started: committed before it, so the query saw it.
        recent.retain(|(at, _)| *at >= started);
        ids.extend(recent.iter().map(|(_, jti)| jti.clone()));
        *state = Some(Loaded {
            ids,
            loaded_at: started,
            recent,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_ids_answer_only_when_loaded_and_keep_local_revocations_across_a_reload() {
        let cache = RevokedIds::new(Duration::from_secs(60));
        assert_eq!(cache.lookup("a"), None, "not loaded yet: ask the database");
        cache.add("early");
        assert_eq!(cache.lookup("early"), None);

        let started = Instant::now();
        cache.replace(HashSet::from(["a".to_owned()]), started);
        assert_eq!(cache.lookup("a"), Some(true));
        assert_eq!(cache.lookup("b"), Some(false));

        // Revoked here after the next reload's query started: that query may have missed
        // it, so it survives the reload.
        let next = Instant::now();
        cache.add("b");
        cache.replace(HashSet::new(), next);
        assert_eq!(cache.lookup("b"), Some(true));
        assert_eq!(cache.lookup("a"), Some(false), "no longer in the database");

        // A reload that started after the local revocation is authoritative.
        cache.replace(HashSet::new(), Instant::now());
        assert_eq!(cache.lookup("b"), Some(false));
    }

    #[test]
    fn a_stale_revocation_set_answers_nothing() {
        let cache = RevokedIds::new(Duration::from_millis(1));
        cache.replace(HashSet::from(["a".to_owned()]), Instant::now());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.lookup("a"), None);
    }
}
