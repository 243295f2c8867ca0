//! Database schema for Latchkey, as sea-orm-migration steps. Every step has `up` and `down`
//! and runs on both SQLite and PostgreSQL, so only portable column types are used:
//! TEXT, BIGINT (unix seconds) and BOOLEAN; lists are stored as JSON text.
//!
//! Nothing here depends on the `latchkey` crate; the app runs `Migrator::up` at start-up
//! and from every CLI command.
pub use sea_orm_migration::prelude::*;

mod m20261129_000001_initial;
mod m20261129_000002_login_failures;
mod m20261129_000003_signing_key_activation;
mod m20261130_000020_expiry_indexes;
mod m20261130_000050_token_exchange_policies;
mod m20261130_000070_logout;
mod m20261201_000080_sign_in_methods;
mod m20261201_000081_logout_outbox;
mod m20261201_000090_two_factor;
mod m20261201_000100_passkeys;
mod m20261201_000110_exchange_issuers;
mod m20261202_000120_logout_outbox_clients;
mod m20261203_000130_code_sign_in;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_initial::Migration),
            Box::new(m20261129_000002_login_failures::Migration),
            Box::new(m20261129_000003_signing_key_activation::Migration),
            Box::new(m20261130_000020_expiry_indexes::Migration),
            Box::new(m20261130_000050_token_exchange_policies::Migration),
            Box::new(m20261130_000070_logout::Migration),
            Box::new(m20261201_000080_sign_in_methods::Migration),
            Box::new(m20261201_000081_logout_outbox::Migration),
            Box::new(m20261201_000090_two_factor::Migration),
            Box::new(m20261201_000100_passkeys::Migration),
            Box::new(m20261201_000110_exchange_issuers::Migration),
            Box::new(m20261202_000120_logout_outbox_clients::Migration),
            Box::new(m20261203_000130_code_sign_in::Migration),
        ]
    }
}
