//! How a person signed in (RFC 8176 `amr` values, space-separated) on each session and each
//! grant, so that ID tokens from a code and from a refresh carry it; and what the account
//! page shows of a session: when it was last seen, a short device label and the source
//! address. Rows from before this step were all password sign-ins: they get `pwd`.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Amr,
    LastSeenAt,
    Device,
    SourceIp,
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    Amr,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            (
                Sessions::Table.into_iden(),
                ColumnDef::new(Sessions::Amr)
                    .text()
                    .not_null()
                    .default("pwd")
                    .to_owned(),
            ),
            (
                Sessions::Table.into_iden(),
                ColumnDef::new(Sessions::LastSeenAt)
                    .big_integer()
                    .not_null()
                    .default(0)
                    .to_owned(),
            ),
            (
                Sessions::Table.into_iden(),
                ColumnDef::new(Sessions::Device).text().null().to_owned(),
            ),
            (
                Sessions::Table.into_iden(),
                ColumnDef::new(Sessions::SourceIp).text().null().to_owned(),
            ),
            (
                Grants::Table.into_iden(),
                ColumnDef::new(Grants::Amr)
                    .text()
                    .not_null()
                    .default("pwd")
                    .to_owned(),
            ),
        ];
        for (table, mut column) in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // A session from before this step was last seen, as far as anyone knows, when it
        // began.
        manager
            .get_connection()
            .execute_unprepared("UPDATE sessions SET last_seen_at = created_at")
            .await?;
        // The account page lists a person's sessions.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_sessions_user_id")
                    .table(Sessions::Table)
                    .col(Alias::new("user_id"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_sessions_user_id")
                    .table(Sessions::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Grants::Table)
                    .drop_column(Grants::Amr)
                    .to_owned(),
            )
            .await?;
        for column in [
            Sessions::SourceIp,
            Sessions::Device,
            Sessions::LastSeenAt,
            Sessions::Amr,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
