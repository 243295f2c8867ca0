//! Token exchange (RFC 8693) from other issuers: the subject-token issuers a client's
//! exchange policy accepts, as a JSON array of issuer identifiers. `[]` (every policy
//! written before this step) means this server's own tokens only.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ClientExchangePolicies {
    Table,
    SubjectIssuers,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ClientExchangePolicies::Table)
                    .add_column(
                        ColumnDef::new(ClientExchangePolicies::SubjectIssuers)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ClientExchangePolicies::Table)
                    .drop_column(ClientExchangePolicies::SubjectIssuers)
                    .to_owned(),
            )
            .await
    }
}
