//! The clients of an ended session, recorded in its outbox entry when it ends. The grants
//! that name them (by `sid`) may be gone by the time a server delivers the logouts: deleting
//! a user deletes its grants in the same transaction that queues its sessions. A JSON list
//! of client ids; NULL for entries queued before this column, whose clients are still found
//! through the grants.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LogoutOutbox {
    Table,
    ClientIds,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LogoutOutbox::Table)
                    .add_column(ColumnDef::new(LogoutOutbox::ClientIds).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LogoutOutbox::Table)
                    .drop_column(LogoutOutbox::ClientIds)
                    .to_owned(),
            )
            .await
    }
}
