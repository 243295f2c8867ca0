//! Persistence on sea-orm (SQLite or PostgreSQL): the implementations of `oauth::ports` and
//! `keys::KeyRepository`, and the queries the operator CLI (`admin`) needs.
//!
//! This is one of only two places that import sea_orm (the other is `migrations/`). Nothing
//! outside this module sees an entity or a `DbErr`: methods take and return domain records
//! and `anyhow::Error` (or `StoreError` where the caller must tell a duplicate apart).
mod account;
mod caches;
mod cleanup;
mod clients;
mod entities;
mod exchange_policy;
mod grants;
mod keys;
mod login_failures;
mod passkeys;
#[doc(hidden)]
pub mod scratch;
mod sessions;
mod tokens;
mod two_factor;
mod users;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr, SqlErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::crypto::{MasterKey, SecretHasher};
use crate::oauth::ports::{Readiness, StorageUnavailable};

pub use cleanup::{BATCH as CLEANUP_BATCH, Deleted};
pub use users::UserRecord;

/// The database handle. Cheap to clone: the connection pool is shared.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    hasher: SecretHasher,
    /// Shared by every clone, so that a change made through one is seen by all.
    client_cache: Arc<caches::ClientCache>,
    revoked_ids: Arc<caches::RevokedIds>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.db.get_database_backend())
            .finish_non_exhaustive()
    }
}

/// An insert or update failure the caller may want to report in its own words.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with the same primary key or unique column already exists.
    #[error("a record with the same key already exists")]
    Duplicate,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// How long a request waits for a pooled connection. While the database is unreachable
/// requests fail after this with 503, so it is kept short.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// The most connections a SQLite pool opens, whatever `database_max_connections` says.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// A pooled PostgreSQL connection idle at least this long is pinged before it is handed
/// out (one round trip), so one the server, a proxy or a firewall dropped meanwhile is
/// replaced rather than failing a request. One used more recently is not: pinging before
/// every statement would add a round trip to each on a busy server. The value is
/// HikariCP's `aliveBypassWindowMs`. (sqlx also pings every connection as it goes back to
/// the pool and closes one that does not answer, so a dropped connection fails at most
/// one statement.)
const PING_IF_IDLE_FOR: Duration = Duration::from_millis(500);

/// Arbitrary constant naming the PostgreSQL advisory lock that serialises migrations when
/// several nodes start at once.
const MIGRATION_LOCK_ID: i64 = 0x4c61_7463_686b;

/// The key of the PostgreSQL advisory lock `id` for this deployment's schema. Advisory locks
/// are per database; a deployment is a schema (the first of the connections' `search_path`,
/// `public` by default), so two deployments in one database do not wait on each other's
/// migrations or skip each other's cleanups.
fn advisory_lock_key(id: i64) -> String {
    format!("hashtextextended(current_schema(), {id})")
}

impl Store {
    /// Opens a connection pool for `settings.database_url`.
    ///
    /// PostgreSQL: a connection is pinged before use only after `PING_IF_IDLE_FOR` idle.
    ///
    /// SQLite: never pinged; at most `SQLITE_MAX_CONNECTIONS` connections; the file is
    /// created when missing; every connection gets WAL journaling with
    /// `synchronous = NORMAL`, a 5 s busy timeout and `foreign_keys = ON` (SQLite enforces
    /// foreign keys, and so the cascades of the schema, only when this pragma is set on the
    /// connection). An in-memory database (`sqlite::memory:`) is limited to one long-lived
    /// connection, because each SQLite connection would otherwise see its own empty
    /// database.
    pub async fn connect(settings: &Settings, master: &MasterKey) -> anyhow::Result<Store> {
        let url = settings.database_url.expose_secret();
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.max_connections(settings.database_max_connections.max(1))
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // Statements carry token hashes and are too chatty at info level.
            .sqlx_logging(false);
        if url.starts_with("sqlite:") {
            // A SQLite connection is a file handle in this process: nothing can drop it,
            // and a ping would only be one more trip to its worker thread per statement.
            opts.test_before_acquire(false);
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            if in_memory {
                opts.max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
            } else {
                // SQLite writes one transaction at a time, and each pooled connection is a
                // thread of its own with its own page cache: more than a few only add memory.
                opts.max_connections(
                    settings
                        .database_max_connections
                        .clamp(1, SQLITE_MAX_CONNECTIONS),
                );
            }
            opts.map_sqlx_sqlite_opts(move |o| {
                let o = o
                    .create_if_missing(true)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5));
                if in_memory {
                    o
                } else {
                    // With WAL, NORMAL syncs the log at checkpoints rather than at every
                    // commit: the database stays consistent after a power loss, which may
                    // undo the last commits (the setting SQLite recommends for WAL).
                    o.journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                }
            });
        } else {
            opts.test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
        }
        let db = Database::connect(opts).await.with_db_context(|| {
            format!("failed to connect to the database {}", describe_url(url))
        })?;
        Ok(Store {
            db,
            hasher: SecretHasher::new(master),
            client_cache: Arc::new(caches::ClientCache::new(Duration::from_secs(
                settings.cache.client_ttl,
            ))),
            revoked_ids: Arc::new(caches::RevokedIds::new(Duration::from_secs(
                settings.cache.revocation_refresh,
            ))),
        })
    }

    /// Applies pending migrations; idempotent. They run in one transaction on one
    /// connection, so a migration that fails leaves the schema as it was, on SQLite as on
    /// PostgreSQL.
    ///
    /// Several processes starting together wait for each other instead of racing to create
    /// the same tables: on PostgreSQL through an advisory lock held for the transaction, on
    /// SQLite because `BEGIN IMMEDIATE` takes the write lock (within the busy timeout).
    ///
    /// One connection matters on SQLite beyond atomicity: each connection caches the schema,
    /// and SQLite checks a DDL statement's `already exists` / `no such column` against that
    /// cache without first asking whether another connection changed the schema. Spread
    /// over a pool, a migration could meet a cache from before another connection's
    /// changes. Inside the transaction the first statement (sea-orm's `CREATE TABLE IF NOT
    /// EXISTS seaql_migrations`) verifies the schema, and every later one sees its own.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let postgres = self.db.get_database_backend() == DatabaseBackend::Postgres;
        let txn = self
            .db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: (!postgres).then_some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
            .db_context("failed to begin the migration transaction")?;
        if postgres {
            txn.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({})",
                advisory_lock_key(MIGRATION_LOCK_ID)
            ))
            .await
            .db_context("failed to take the migration lock")?;
        }
        Migrator::up(&txn, None)
            .await
            .db_context("failed to apply database migrations")?;
        txn.commit()
            .await
            .db_context("failed to commit database migrations")?;
        Ok(())
    }

    /// Readiness check: one round trip to the database.
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.db
            .ping()
            .await
            .db_context("the database did not answer")
    }

    /// Closes the pool, letting SQLite checkpoint its write-ahead log.
    pub async fn close(self) -> anyhow::Result<()> {
        self.db
            .close()
            .await
            .db_context("failed to close the database connection pool")
    }

    /// The keyed hash used for client secrets and other high-entropy secrets at rest.
    pub fn secret_hasher(&self) -> &SecretHasher {
        &self.hasher
    }

    /// `"sqlite"` or `"postgres"`, for logs and diagnostics.
    pub fn backend_name(&self) -> &'static str {
        match self.db.get_database_backend() {
            DatabaseBackend::Postgres => "postgres",
            DatabaseBackend::Sqlite => "sqlite",
            _ => "other",
        }
    }
}

#[async_trait]
impl Readiness for Store {
    async fn ping(&self) -> anyhow::Result<()> {
        Store::ping(self).await
    }

    fn pool_usage(&self) -> crate::metrics::PoolUsage {
        let (open, idle, max) = match self.db.get_database_backend() {
            DatabaseBackend::Postgres => {
                let p = self.db.get_postgres_connection_pool();
                (p.size(), p.num_idle(), p.options().get_max_connections())
            }
            _ => {
                let p = self.db.get_sqlite_connection_pool();
                (p.size(), p.num_idle(), p.options().get_max_connections())
            }
        };
        crate::metrics::PoolUsage {
            open,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max,
        }
    }
}

/// The database URL without its password, for error messages.
fn describe_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparseable URL)".to_owned(),
    }
}

/// `DbErr` repeats its source inside its own message, so `{:#}` would print the cause
/// twice. These turn it into a message-only error before adding context.
pub(crate) trait DbResultExt<T> {
    fn db_context<C>(self, context: C) -> anyhow::Result<T>
    where
        C: std::fmt::Display + Send + Sync + 'static;

    fn with_db_context<C, F>(self, f: F) -> anyhow::Result<T>
    where
        C: std::fmt::Display + Send + Sync + 'static,
        F: FnOnce() -> C;
}

impl<T> DbResultExt<T> for Result<T, DbErr> {
    fn db_context<C>(self, context: C) -> anyhow::Result<T>
    where
        C: std::fmt::Display + Send + Sync + 'static,
    {
        self.map_err(|e| message_only(e).context(context))
    }

    fn with_db_context<C, F>(self, f: F) -> anyhow::Result<T>
    where
        C: std::fmt::Display + Send + Sync + 'static,
        F: FnOnce() -> C,
    {
        self.map_err(|e| message_only(e).context(f()))
    }
}

/// The error's message, marked `StorageUnavailable` when the database is out of reach.
fn message_only(e: DbErr) -> anyhow::Error {
    if is_unavailable(&e) {
        anyhow::Error::new(StorageUnavailable(e.to_string()))
    } else {
        anyhow::anyhow!("{e}")
    }
}

/// Whether `e` says the database cannot be reached now (rather than that a statement is
/// wrong): no connection to be had, a connection lost, or the server shutting down
/// (SQLSTATE classes 08 "connection exception" and 57 "operator intervention").
fn is_unavailable(e: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(s)) | DbErr::Query(RuntimeErr::SqlxError(s)) => {
            match &**s {
                Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::Protocol(_) => true,
                Sqlx::Database(d) => d
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57")),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Maps a failed write to `StoreError::Duplicate` when a unique constraint rejected it.
fn write_error(err: DbErr, what: impl FnOnce() -> String) -> StoreError {
    if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        StoreError::Duplicate
    } else {
        StoreError::Other(anyhow::anyhow!("{err}").context(what()))
    }
}

/// Current time in unix seconds.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod test_support {
    use secrecy::SecretString;

    use super::Store;
    use crate::config::Settings;
    use crate::crypto::MasterKey;

    /// A migrated store on a fresh SQLite file inside `dir`.
    pub async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
        let path = dir.path().join("test.db");
        let settings = Settings {
            database_url: SecretString::from(format!("sqlite://{}?mode=rwc", path.display())),
            database_max_connections: 4,
            ..Settings::default()
        };
        let store = Store::connect(&settings, &MasterKey::from_bytes([9; 32]))
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        store
    }
}
