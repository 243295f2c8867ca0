//! The cleanup of expired rows, in bounded batches, by one node at a time.
//!
//! Each statement deletes at most `BATCH` rows (`DELETE ... WHERE rowid IN (SELECT ... LIMIT
//! n)`), so no statement holds locks on a large part of a table or grows the write-ahead log
//! without bound, and requests keep flowing between batches. On PostgreSQL a run first takes
//! a transaction-scoped advisory lock (`pg_try_advisory_xact_lock`, keyed by the schema) on
//! a connection of its own; a node that finds it taken skips its run, so nodes neither repeat
//! nor fight over the same rows. SQLite is one node: its runs are serialised by the
//! database's write lock.
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};

use super::{DbResultExt, Store, advisory_lock_key};

/// Rows per DELETE statement.
pub const BATCH: u64 = 1000;

/// Seconds failed sign-ins are kept (longer than any throttling window).
const LOGIN_FAILURE_MEMORY: i64 = 24 * 3600;

/// Seconds a code is remembered after it expires, so that a replay is still recognised and
/// revokes what the code produced (RFC 6749 section 4.1.2).
const CODE_REPLAY_MEMORY: i64 = 24 * 3600;

/// Arbitrary constant naming the PostgreSQL advisory lock of a cleanup run.
const CLEANUP_LOCK_ID: i64 = 0x4c61_7463_6c6e;

/// A table and the condition that makes a row deletable, given the current time.
struct Rule {
    table: &'static str,
    condition: fn(i64) -> String,
}

/// Order matters: grants go last, once the rows that refer to them are gone.
const RULES: &[Rule] = &[
    Rule {
        table: "revoked_tokens",
        condition: |now| format!("expires_at < {now}"),
    },
    Rule {
        table: "client_assertion_jtis",
        condition: |now| format!("expires_at < {now}"),
    },
    Rule {
        table: "passkey_ceremonies",
        condition: |now| format!("expires_at < {now}"),
    },
    Rule {
        table: "sessions",
        condition: |now| format!("expires_at < {now}"),
    },
    Rule {
        table: "authorization_codes",
        condition: |now| format!("expires_at < {}", now - CODE_REPLAY_MEMORY),
    },
    Rule {
        table: "grant_access_tokens",
        condition: |now| format!("expires_at < {now}"),
    },
    Rule {
        table: "refresh_tokens",
        condition: |now| format!("expires_at < {now}"),
    },
    Rule {
        table: "login_failures",
        condition: |now| format!("at < {}", now - LOGIN_FAILURE_MEMORY),
    },
    // A refresh family (grant) with nothing left under it: no refresh token, no code and no
    // access token that could still be revoked through it. Its consent is kept separately.
    Rule {
        table: "grants",
        condition: |now| {
            format!(
                "created_at < {} \
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = grants.id) \
                 AND NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.grant_id = grants.id) \
                 AND NOT EXISTS (SELECT 1 FROM grant_access_tokens a WHERE a.grant_id = grants.id)",
                now - CODE_REPLAY_MEMORY
            )
        },
    },
];

/// What one run deleted, per table (tables with nothing to delete included, with 0).
pub type Deleted = Vec<(&'static str, u64)>;

impl Store {
    /// Deletes expired rows in batches of `BATCH`, table by table, until none is left.
    /// `None` when another node is running a cleanup at this moment (PostgreSQL).
    pub async fn purge_expired(&self, now: i64) -> anyhow::Result<Option<Deleted>> {
        let backend = self.db.get_database_backend();
        // The lock lives as long as this transaction; the deletes run on other pooled
        // connections, each batch committed on its own.
        let lock = if backend == DatabaseBackend::Postgres {
            let txn = self
                .db
                .begin()
                .await
                .db_context("failed to begin the cleanup lock transaction")?;
            let row = txn
                .query_one_raw(Statement::from_string(
                    backend,
                    format!(
                        "SELECT pg_try_advisory_xact_lock({}) AS locked",
                        advisory_lock_key(CLEANUP_LOCK_ID)
                    ),
                ))
                .await
                .db_context("failed to try the cleanup lock")?;
            let locked: bool = row
                .map(|r| r.try_get("", "locked"))
                .transpose()
                .db_context("failed to read the cleanup lock result")?
                .unwrap_or(false);
            if !locked {
                return Ok(None);
            }
            Some(txn)
        } else {
            None
        };
        let row_id = match backend {
            DatabaseBackend::Postgres => "ctid",
            _ => "rowid",
        };
        let mut deleted = Vec::with_capacity(RULES.len());
        for rule in RULES {
            let condition = (rule.condition)(now);
            let sql = format!(
                "DELETE FROM {t} WHERE {row_id} IN (SELECT {row_id} FROM {t} WHERE {condition} LIMIT {BATCH})",
                t = rule.table
            );
            let mut total = 0;
            loop {
                let n = self
                    .db
                    .execute_raw(Statement::from_string(backend, sql.clone()))
                    .await
                    .with_db_context(|| format!("failed to delete expired {}", rule.table))?
                    .rows_affected();
                total += n;
                if n < BATCH {
                    break;
                }
                // Let requests waiting for a connection or a lock go first.
                tokio::task::yield_now().await;
            }
            deleted.push((rule.table, total));
        }
        if let Some(txn) = lock {
            txn.commit()
                .await
                .db_context("failed to release the cleanup lock")?;
        }
        Ok(Some(deleted))
    }
}
