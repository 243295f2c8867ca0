//! The outbox of back-channel logouts: a session ended by a process that cannot deliver
//! (the `users set-password` command) or on a busy node is queued here, in the transaction
//! that ends it, and a server delivers it. Keyed by the ended session's id hash (never the
//! cookie), so the same session is queued once.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LogoutOutbox {
    Table,
    SessionIdHash,
    UserId,
    EndedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LogoutOutbox::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(LogoutOutbox::SessionIdHash)
                            .text()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LogoutOutbox::UserId).text().not_null())
                    .col(
                        ColumnDef::new(LogoutOutbox::EndedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_logout_outbox_ended_at")
                    .table(LogoutOutbox::Table)
                    .col(LogoutOutbox::EndedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LogoutOutbox::Table).to_owned())
            .await
    }
}
