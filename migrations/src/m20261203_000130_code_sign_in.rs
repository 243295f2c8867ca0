//! An authorization code carries the sign-in it came from in full: beside `auth_time`, the
//! `sid` of the browser session and the `amr` of the sign-in, as its grant does. The code
//! exchange then reads the code alone, not the code and then its grant. Codes issued before
//! this step take both from their grant.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    Sid,
    Amr,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            ColumnDef::new(AuthorizationCodes::Sid)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(AuthorizationCodes::Amr)
                .text()
                .not_null()
                .default("pwd")
                .to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuthorizationCodes::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE authorization_codes SET \
                 sid = (SELECT grants.sid FROM grants WHERE grants.id = authorization_codes.grant_id), \
                 amr = COALESCE((SELECT grants.amr FROM grants WHERE grants.id = authorization_codes.grant_id), 'pwd')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [AuthorizationCodes::Sid, AuthorizationCodes::Amr] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuthorizationCodes::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
