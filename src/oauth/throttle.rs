//! Throttling of failed authentication, for sign-ins and for client authentication alike.
//!
//! Failures are recorded in the database (so every node agrees) under two keys: the pair
//! (account or client id, source address) and the account or client id alone. The verdict
//! for an attempt is taken from both counts over a sliding window:
//!
//! - the pair gets a few free failures, then growing delays (1 s, 2 s, 4 s, ... up to
//!   `max_delay`) between attempts, then a lock for `failure_window` after `max_failures`;
//! - the account or client alone is locked only at the much higher
//!   `max_failures_all_addresses`, and even then only for addresses that have themselves
//!   failed at least once in the window. An attacker failing from one address can therefore
//!   never lock the real person or client out at another address: at most their own pair
//!   locks, and an attack spread over many addresses gets one guess per address per window
//!   while the person signing in from a clean address is still checked.
//!
//! Refused attempts are not recorded: a lock cannot be extended by hammering it.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::ThrottleSettings;
use crate::read_ahead::{Entry, Lookup};

/// Failures recorded for one key within the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureStats {
    pub count: u64,
    /// Unix time of the most recent failure.
    pub last_at: Option<i64>,
}

impl FailureStats {
    /// The stats after one more failure at `at`.
    pub fn plus_one(self, at: i64) -> Self {
        Self {
            count: self.count + 1,
            last_at: Some(at),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// A growing delay: the next attempt is allowed in `retry_after` seconds.
    Wait {
        retry_after: u64,
    },
    /// Locked for `retry_after` more seconds.
    Locked {
        retry_after: u64,
    },
}

impl Verdict {
    pub fn is_allowed(self) -> bool {
        self == Verdict::Allow
    }

    /// Seconds until an attempt would be considered again, or 0.
    pub fn retry_after(self) -> u64 {
        match self {
            Verdict::Allow => 0,
            Verdict::Wait { retry_after } | Verdict::Locked { retry_after } => retry_after,
        }
    }
}

/// The verdict for an attempt at `now` given the failures of its pair and of its account
/// (or client) across all addresses.
pub fn verdict(
    limits: &ThrottleSettings,
    pair: FailureStats,
    all: FailureStats,
    now: i64,
) -> Verdict {
    let Some(last) = pair.last_at.filter(|_| pair.count > 0) else {
        // A clean address is always checked, whatever happens elsewhere.
        return Verdict::Allow;
    };
    let window = limits.failure_window as i64;
    let remaining = |until: i64| (until - now).max(1) as u64;
    if pair.count >= limits.max_failures || all.count >= limits.max_failures_all_addresses {
        if last + window > now {
            return Verdict::Locked {
                retry_after: remaining(last + window),
            };
        }
        return Verdict::Allow;
    }
    if pair.count >= limits.delay_after {
        let steps = (pair.count - limits.delay_after).min(32) as u32;
        let delay = 1u64
            .checked_shl(steps)
            .unwrap_or(u64::MAX)
            .min(limits.max_delay) as i64;
        if last + delay > now {
            return Verdict::Wait {
                retry_after: remaining(last + delay),
            };
        }
    }
    Verdict::Allow
}

/// How long a node trusts what it last read about a key's lock state.
const FRESH_FOR: Duration = Duration::from_secs(2);
/// Above this many remembered keys, stale ones are dropped (and all of them if that is not
/// enough), so the memory is bounded whatever ids and addresses are sent.
const MAX_ENTRIES: usize = 16_384;

/// A per-node memory of lock states read from the database, so that a successful client
/// authentication costs no database access for throttling: a pair's state is read at most
/// about once a second (by one request, once half of `FRESH_FOR` has passed: the others
/// keep using what was read, `crate::read_ahead`), and a failure on this node updates it at
/// once. A lock set by another node is seen here within `FRESH_FOR`.
#[derive(Debug, Default)]
pub struct LockStateCache {
    entries: Mutex<HashMap<String, Entry<Option<i64>>>>,
}

impl LockStateCache {
    /// What is known of `key` (`Some(until)`: locked until then; `None` inside: not locked).
    pub fn get(&self, key: &str) -> Lookup<Option<i64>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .map_or(Lookup::Miss, |e| e.lookup(FRESH_FOR, Instant::now()))
    }

    /// Remembers the state of `key` read by a query that started at `read_at`.
    pub fn put(&self, key: &str, locked_until: Option<i64>, read_at: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(key) {
            let now = Instant::now();
            entries.retain(|_, e| e.is_fresh(FRESH_FOR, now));
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key.to_owned(), Entry::new(locked_until, read_at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ThrottleSettings {
        ThrottleSettings {
            max_failures: 6,
            failure_window: 900,
            delay_after: 3,
            max_delay: 4,
            max_failures_all_addresses: 50,
        }
    }

    fn stats(count: u64, last_at: i64) -> FailureStats {
        FailureStats {
            count,
            last_at: Some(last_at),
        }
    }

    #[test]
    fn free_failures_then_growing_delays_then_a_lock() {
        let l = limits();
        let none = FailureStats::default();
        assert_eq!(verdict(&l, stats(2, 100), none, 100), Verdict::Allow);
        // 3rd failure: 1 s, 4th: 2 s, 5th: 4 s (capped at max_delay).
        assert_eq!(
            verdict(&l, stats(3, 100), none, 100),
            Verdict::Wait { retry_after: 1 }
        );
        assert_eq!(verdict(&l, stats(3, 100), none, 101), Verdict::Allow);
        assert_eq!(
            verdict(&l, stats(4, 100), none, 100),
            Verdict::Wait { retry_after: 2 }
        );
        assert_eq!(
            verdict(&l, stats(5, 100), none, 101),
            Verdict::Wait { retry_after: 3 }
        );
        assert_eq!(verdict(&l, stats(5, 100), none, 104), Verdict::Allow);
        assert_eq!(
            verdict(&l, stats(6, 100), none, 400),
            Verdict::Locked { retry_after: 600 }
        );
        assert_eq!(verdict(&l, stats(6, 100), none, 1000), Verdict::Allow);
    }

    #[test]
    fn the_account_wide_lock_spares_clean_addresses() {
        let l = limits();
        let attacked = stats(50, 100);
        assert_eq!(
            verdict(&l, FailureStats::default(), attacked, 101),
            Verdict::Allow
        );
        assert_eq!(
            verdict(&l, stats(1, 90), attacked, 101),
            Verdict::Locked { retry_after: 889 }
        );
    }

    #[test]
    fn cache_forgets_after_a_while_and_stays_bounded() {
        let c = LockStateCache::default();
        assert_eq!(c.get("a"), Lookup::Miss);
        c.put("a", Some(5), Instant::now());
        assert_eq!(c.get("a"), Lookup::Hit(Some(5)));
        // Read longer ago than the bound: forgotten.
        c.put("b", None, Instant::now() - FRESH_FOR);
        assert_eq!(c.get("b"), Lookup::Miss);
        // Past half of it: one caller reads it again, the others use it meanwhile.
        c.put("c", None, Instant::now() - FRESH_FOR * 3 / 4);
        assert_eq!(c.get("c"), Lookup::Refresh(None));
        assert_eq!(c.get("c"), Lookup::Hit(None));
        for i in 0..MAX_ENTRIES + 10 {
            c.put(&i.to_string(), None, Instant::now());
        }
        assert!(c.entries.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
