//! A cached value that is read again before it expires. Within the first half of its bound
//! it is used as it is; in the second half the first caller to look is told to read it
//! again (`Lookup::Refresh`) while every other caller keeps using it; past the bound nobody
//! gets it. A value in steady use thus never expires, and the callers in flight when it
//! would have expired do not all go to the database at once (on a busy node that queued
//! them all behind one another and stalled every request for milliseconds).
//!
//! `Lookup::or_read` settles a lookup for its caller: the cached value, or a read (whose
//! start the caller stores with what it read); a refresher whose read fails keeps the value
//! it was given, which was within the bound when it was handed out.
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a cache knows of a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<T> {
    /// Use this value.
    Hit(T),
    /// Use this value, after reading it again and storing what was read: this caller was
    /// chosen to refresh it.
    Refresh(T),
    /// Not known (or past its bound): read it.
    Miss,
}

impl<T> Lookup<T> {
    /// Settles this lookup: the cached value on a hit; otherwise the value `read` returns,
    /// with when the read started (to store it with). When a refresh fails, the value the
    /// refresher was given is used instead (it was within the bound when handed out); a
    /// miss that fails is an error. `what` names the value in the warning of such a failure.
    pub async fn or_read<R, E, Fut>(
        self,
        what: &str,
        read: impl FnOnce() -> Fut,
    ) -> Result<Settled<T, R>, E>
    where
        E: std::fmt::Display,
        Fut: Future<Output = Result<R, E>>,
    {
        let cached = match self {
            Lookup::Hit(value) => return Ok(Settled::Cached(value)),
            Lookup::Refresh(value) => Some(value),
            Lookup::Miss => None,
        };
        let read_at = Instant::now();
        match (read().await, cached) {
            (Ok(value), _) => Ok(Settled::Read { value, read_at }),
            (Err(e), Some(value)) => {
                tracing::warn!(error = %e, "could not read {what} again; using what was read before");
                Ok(Settled::Cached(value))
            }
            (Err(e), None) => Err(e),
        }
    }
}

/// A value from a cache (`Cached`) or just read (`Read`, to be stored).
pub enum Settled<T, R> {
    Cached(T),
    Read { value: R, read_at: Instant },
}

/// One cached value: what was read, and when the read started.
#[derive(Debug)]
pub struct Entry<T> {
    read_at: Instant,
    value: T,
    /// A caller has been told to refresh this value.
    refreshing: AtomicBool,
}

impl<T: Clone> Entry<T> {
    /// A value read by a query that started at `read_at` (taken before the query, so the
    /// value never outlives its bound).
    pub fn new(value: T, read_at: Instant) -> Self {
        Self {
            read_at,
            value,
            refreshing: AtomicBool::new(false),
        }
    }

    /// The value as seen at `now` under `bound`.
    pub fn lookup(&self, bound: Duration, now: Instant) -> Lookup<T> {
        let age = now.saturating_duration_since(self.read_at);
        if age >= bound {
            Lookup::Miss
        } else if age >= bound / 2 && !self.refreshing.swap(true, Ordering::AcqRel) {
            Lookup::Refresh(self.value.clone())
        } else {
            Lookup::Hit(self.value.clone())
        }
    }

    /// Whether the value is still within `bound` at `now`.
    pub fn is_fresh(&self, bound: Duration, now: Instant) -> bool {
        now.saturating_duration_since(self.read_at) < bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_caller_refreshes_past_half_the_bound_and_none_gets_it_after() {
        let bound = Duration::from_secs(2);
        let t0 = Instant::now();
        let entry = Entry::new("v", t0);
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(entry.lookup(bound, at(0)), Lookup::Hit("v"));
        assert_eq!(entry.lookup(bound, at(999)), Lookup::Hit("v"));
        assert_eq!(entry.lookup(bound, at(1000)), Lookup::Refresh("v"));
        // The others keep the value while that one reads.
        assert_eq!(entry.lookup(bound, at(1000)), Lookup::Hit("v"));
        assert_eq!(entry.lookup(bound, at(1999)), Lookup::Hit("v"));
        assert!(entry.is_fresh(bound, at(1999)));
        // Past the bound nobody gets it, refreshed or not.
        assert_eq!(entry.lookup(bound, at(2000)), Lookup::Miss);
        assert!(!entry.is_fresh(bound, at(2000)));
        // What the refresh stores starts a new bound, with a new refresher at its half.
        let next = Entry::new("w", at(1000));
        assert_eq!(next.lookup(bound, at(2000)), Lookup::Refresh("w"));
        assert_eq!(next.lookup(bound, at(2000)), Lookup::Hit("w"));
        assert_eq!(next.lookup(bound, at(3000)), Lookup::Miss);
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_the_value_and_a_failed_miss_is_an_error() {
        let failing = || async { Err::<u8, &str>("down") };
        let kept = Lookup::Refresh("v").or_read("v", failing).await.unwrap();
        assert!(matches!(kept, Settled::Cached("v")));
        assert!(Lookup::<&str>::Miss.or_read("v", failing).await.is_err());
        let hit = Lookup::Hit("v").or_read("v", failing).await.unwrap();
        assert!(matches!(hit, Settled::Cached("v")));
        let read = Lookup::Refresh("v")
            .or_read("v", || async { Ok::<u8, &str>(7) })
            .await
            .unwrap();
        assert!(matches!(read, Settled::Read { value: 7, .. }));
    }
}
