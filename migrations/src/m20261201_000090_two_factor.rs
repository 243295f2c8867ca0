//! Authenticator codes (TOTP, RFC 6238) and recovery codes as a second factor, and the
//! per-client requirement of two factors.
//!
//! `totp_authenticators`: one per user; the secret sealed with the master key, when a first
//! code confirmed it (unconfirmed rows do not count), and the last accepted time step (a
//! conditional UPDATE accepts each step once, across nodes). `recovery_codes`: keyed hashes,
//! `used_at` set once. Both are deleted with their user.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TotpAuthenticators {
    Table,
    UserId,
    SecretSealed,
    ConfirmedAt,
    LastUsedStep,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    CodeHash,
    UserId,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    RequireTwoFactor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TotpAuthenticators::Table)
                    .if_not_exists()
                    .col(text(TotpAuthenticators::UserId).primary_key())
                    .col(text(TotpAuthenticators::SecretSealed))
                    .col(big_integer_null(TotpAuthenticators::ConfirmedAt))
                    .col(big_integer_null(TotpAuthenticators::LastUsedStep))
                    .col(big_integer(TotpAuthenticators::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_totp_authenticators_user")
                            .from(TotpAuthenticators::Table, TotpAuthenticators::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecoveryCodes::Table)
                    .if_not_exists()
                    .col(text(RecoveryCodes::CodeHash).primary_key())
                    .col(text(RecoveryCodes::UserId))
                    .col(big_integer(RecoveryCodes::CreatedAt))
                    .col(big_integer_null(RecoveryCodes::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recovery_codes_user")
                            .from(RecoveryCodes::Table, RecoveryCodes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_recovery_codes_user")
                    .table(RecoveryCodes::Table)
                    .col(RecoveryCodes::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .add_column(
                        ColumnDef::new(Clients::RequireTwoFactor)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .drop_column(Clients::RequireTwoFactor)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(RecoveryCodes::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(TotpAuthenticators::Table).to_owned())
            .await
    }
}
