//! Passkeys (WebAuthn): the credentials people register, and the state of ceremonies in
//! progress. Ceremony state lives here, not in the browser, so any node can finish a
//! ceremony another started, and each is used at most once (a conditional DELETE).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, text, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    Id,
    UserId,
    /// base64url of the credential id, unique across all users (WebAuthn section 6.1).
    CredentialId,
    /// The WebAuthn user handle the credential was created with (base64url of 16 bytes).
    UserHandle,
    /// The credential as the WebAuthn library serialises it (public key, counter, flags).
    Credential,
    Name,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum PasskeyCeremonies {
    Table,
    /// Keyed hash of the random id held in the browser's cookie.
    IdHash,
    /// `register` or `authenticate`.
    Kind,
    /// The user registering a passkey; empty for a sign-in.
    UserId,
    State,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Passkeys::Table)
                    .if_not_exists()
                    .col(text(Passkeys::Id).primary_key())
                    .col(text(Passkeys::UserId))
                    .col(text(Passkeys::CredentialId).unique_key())
                    .col(text(Passkeys::UserHandle))
                    .col(text(Passkeys::Credential))
                    .col(text(Passkeys::Name))
                    .col(big_integer(Passkeys::CreatedAt))
                    .col(big_integer_null(Passkeys::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_passkeys_user")
                            .from(Passkeys::Table, Passkeys::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_passkeys_user_id")
                    .table(Passkeys::Table)
                    .col(Passkeys::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PasskeyCeremonies::Table)
                    .if_not_exists()
                    .col(text(PasskeyCeremonies::IdHash).primary_key())
                    .col(text(PasskeyCeremonies::Kind))
                    .col(text_null(PasskeyCeremonies::UserId))
                    .col(text(PasskeyCeremonies::State))
                    .col(big_integer(PasskeyCeremonies::CreatedAt))
                    .col(big_integer(PasskeyCeremonies::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        // The cleanup deletes by expiry.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_passkey_ceremonies_expires_at")
                    .table(PasskeyCeremonies::Table)
                    .col(PasskeyCeremonies::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PasskeyCeremonies::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Passkeys::Table).to_owned())
            .await
    }
}
