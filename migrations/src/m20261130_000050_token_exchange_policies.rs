//! Token exchange (RFC 8693) policy per client: the audiences and scopes a client may
//! exchange a subject token for, and whether it may impersonate (a token without `act`).
//! A client without a row may not use token exchange.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, boolean, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ClientExchangePolicies {
    Table,
    ClientId,
    Audiences,
    Scopes,
    MayImpersonate,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClientExchangePolicies::Table)
                    .if_not_exists()
                    .col(text(ClientExchangePolicies::ClientId).primary_key())
                    // JSON array of strings.
                    .col(text(ClientExchangePolicies::Audiences))
                    // Space-delimited scope tokens.
                    .col(text(ClientExchangePolicies::Scopes))
                    .col(boolean(ClientExchangePolicies::MayImpersonate))
                    .col(big_integer(ClientExchangePolicies::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_client_exchange_policies_client")
                            .from(
                                ClientExchangePolicies::Table,
                                ClientExchangePolicies::ClientId,
                            )
                            .to(Clients::Table, Clients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(ClientExchangePolicies::Table)
                    .to_owned(),
            )
            .await
    }
}
