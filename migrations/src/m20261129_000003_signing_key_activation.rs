//! Signing keys get an activation time: a rotated-in key is published in the JWKS first and
//! used for signing only from `activates_at`, so verifiers that cache the JWKS learn it
//! before they meet a token it signed. Existing keys are active already (0).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    ActivatesAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SigningKeys::Table)
                    .add_column(
                        ColumnDef::new(SigningKeys::ActivatesAt)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SigningKeys::Table)
                    .drop_column(SigningKeys::ActivatesAt)
                    .to_owned(),
            )
            .await
    }
}
