//! A throw-away PostgreSQL schema for the test suites (`LATCHKEY_TEST_DATABASE_URL`).
//!
//! Each test gets a schema of its own in the database that URL names, reached through a URL
//! whose connections have that schema as their `search_path`, and dropped afterwards. A
//! schema rather than a database per test: `DROP DATABASE` waits for a checkpoint
//! (0.8–0.9 s each on a CI machine, most of a test's time), `DROP SCHEMA` does not.
//! Nothing of the server differs: it creates its tables, migration bookkeeping included, in
//! the first schema of its `search_path`, as it does in `public` by default.
use sea_orm::{ConnectionTrait, Database, DbErr};

/// The names of the test schemas begin with this (CI checks that none is left behind).
pub const PREFIX: &str = "latchkey_test_";

/// One test's schema; `url` is what a server or a connection of the test uses.
pub struct ScratchSchema {
    pub url: String,
    admin_url: String,
    name: String,
}

impl ScratchSchema {
    /// Creates `latchkey_test_{random}` in the database of `admin_url`.
    pub async fn create(admin_url: &str) -> Result<Self, DbErr> {
        let name = format!("{PREFIX}{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(admin_url).await?;
        let created = admin
            .execute_unprepared(&format!("CREATE SCHEMA {name}"))
            .await;
        admin.close().await.ok();
        created?;
        // The application name marks this schema's connections, so that `drop` can end them
        // (a server stopped mid-transaction would otherwise hold its locks).
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url =
            format!("{admin_url}{sep}options=-c%20search_path%3D{name}&application_name={name}");
        Ok(Self {
            url,
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    /// Ends the schema's connections and drops it with everything in it.
    pub async fn drop(self) -> Result<(), DbErr> {
        let admin = Database::connect(&self.admin_url).await?;
        let outcome = drop_schema(&admin, &self.name).await;
        admin.close().await.ok();
        outcome
    }
}

async fn drop_schema(admin: &sea_orm::DatabaseConnection, name: &str) -> Result<(), DbErr> {
    // A pool may reconnect between ending its connections and the drop, and take a lock
    // again: the drop gives up waiting after a while, and the pair is tried again.
    admin.execute_unprepared("SET lock_timeout = '2s'").await?;
    let mut attempts = 0;
    loop {
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = '{name}'"
            ))
            .await?;
        match admin
            .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
            .await
        {
            Err(_) if attempts < 4 => attempts += 1,
            outcome => return outcome.map(|_| ()),
        }
    }
}
