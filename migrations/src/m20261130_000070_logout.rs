//! Sign-out (OpenID Connect RP-Initiated and Back-Channel Logout 1.0): the post-logout
//! redirect URIs and the back-channel logout URI a client registers, and the session (`sid`, a keyed hash, never the cookie) each grant was made
//! in, so that the ID tokens of a grant carry `sid` and a session's clients can be found.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    PostLogoutRedirectUris,
    BackchannelLogoutUri,
    BackchannelLogoutSessionRequired,
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    Sid,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            (
                Clients::Table.into_iden(),
                ColumnDef::new(Clients::PostLogoutRedirectUris)
                    .text()
                    .not_null()
                    .default("[]")
                    .to_owned(),
            ),
            (
                Clients::Table.into_iden(),
                ColumnDef::new(Clients::BackchannelLogoutUri)
                    .text()
                    .null()
                    .to_owned(),
            ),
            (
                Clients::Table.into_iden(),
                ColumnDef::new(Clients::BackchannelLogoutSessionRequired)
                    .boolean()
                    .not_null()
                    .default(false)
                    .to_owned(),
            ),
            (
                Grants::Table.into_iden(),
                ColumnDef::new(Grants::Sid).text().null().to_owned(),
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
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_grants_sid")
                    .table(Grants::Table)
                    .col(Grants::Sid)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_grants_sid")
                    .table(Grants::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Grants::Table)
                    .drop_column(Grants::Sid)
                    .to_owned(),
            )
            .await?;
        for column in [
            Clients::BackchannelLogoutSessionRequired,
            Clients::BackchannelLogoutUri,
            Clients::PostLogoutRedirectUris,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Clients::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
