//! Indexes for the cleanup task: every table it deletes from by age is searched on that
//! column. The other expiring tables got theirs in `000001_initial`; failed sign-ins were
//! indexed by (subject, at) only, and grants had no index on their creation time.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    At,
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_login_failures_at")
                    .table(LoginFailures::Table)
                    .col(LoginFailures::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_grants_created_at")
                    .table(Grants::Table)
                    .col(Grants::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_grants_created_at")
                    .table(Grants::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_login_failures_at")
                    .table(LoginFailures::Table)
                    .to_owned(),
            )
            .await
    }
}
