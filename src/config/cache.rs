//! `[cache]`: the staleness bounds of the per-node caches.
use serde::{Deserialize, Serialize};

/// Per-node caches of database records, each with a bound on how stale it may be. Every
/// node reads the same database, so a change made through another node (or the CLI) is
/// seen here within these bounds; 0 turns a cache off (every request reads the database).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// Seconds a client record (secret hash, redirect URIs, scopes, ...) read from the
    /// database is reused: a deleted client or a rotated secret stops working on every node
    /// within this time.
    pub client_ttl: u64,
    /// Seconds between reloads of the revoked access-token ids from the database: an access
    /// token revoked through another node is reported inactive by introspection and refused
    /// by userinfo on this node within this time (at once on the node that revoked it).
    pub revocation_refresh: u64,
}
