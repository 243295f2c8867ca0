//! The initial schema: clients, signing keys, token revocation and replay caches, users,
//! sessions, grants and the tokens issued under them, and consents.
//!
//! Conventions: timestamps are BIGINT unix seconds; JSON arrays are TEXT; secrets and
//! opaque tokens are stored only as keyed hashes (`*_hash` columns). Foreign keys cascade
//! from users and clients so that deleting either removes everything issued to it (SQLite
//! enforces them only with `PRAGMA foreign_keys = ON`, which the store sets per connection).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, boolean, text, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    Name,
    SecretHash,
    AuthMethod,
    RedirectUris,
    GrantTypes,
    Scopes,
    Audiences,
    Jwks,
    JwksUri,
    AccessTokenAlg,
    IdTokenAlg,
    FirstParty,
    RequirePkce,
    AlwaysIssueRefreshToken,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    Alg,
    PublicJwk,
    PrivateSealed,
    CreatedAt,
    RetiredAt,
}

#[derive(DeriveIden)]
enum RevokedTokens {
    Table,
    Jti,
    ClientId,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ClientAssertionJtis {
    Table,
    ClientId,
    Jti,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    PasswordHash,
    Email,
    EmailVerified,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    IdHash,
    UserId,
    AuthTime,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    Id,
    ClientId,
    UserId,
    Scope,
    AuthTime,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum GrantAccessTokens {
    Table,
    Jti,
    GrantId,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    CodeHash,
    GrantId,
    ClientId,
    UserId,
    RedirectUri,
    Scope,
    Nonce,
    CodeChallenge,
    CodeChallengeMethod,
    AuthTime,
    CreatedAt,
    ExpiresAt,
    ConsumedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TokenHash,
    GrantId,
    ClientId,
    UserId,
    Scope,
    AuthTime,
    CreatedAt,
    ExpiresAt,
    RotatedAt,
}

#[derive(DeriveIden)]
enum Consents {
    Table,
    UserId,
    ClientId,
    Scope,
    CreatedAt,
    UpdatedAt,
}

/// A `TEXT NOT NULL PRIMARY KEY` column.
fn text_pk<T: IntoIden>(col: T) -> ColumnDef {
    text(col).primary_key().take()
}

fn cascade(
    name: &str,
    from_table: impl IntoIden,
    from_col: impl IntoIden,
    to_table: impl IntoIden,
    to_col: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from_table, from_col)
        .to(to_table, to_col)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::Cascade)
        .take()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: &[&'static str],
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for c in cols {
        stmt.col(Alias::new(*c));
    }
    manager.create_index(stmt).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Clients::Table)
                    .col(text_pk(Clients::Id))
                    .col(text(Clients::Name))
                    .col(text_null(Clients::SecretHash))
                    .col(text(Clients::AuthMethod))
                    .col(text(Clients::RedirectUris))
                    .col(text(Clients::GrantTypes))
                    .col(text(Clients::Scopes))
                    .col(text(Clients::Audiences))
                    .col(text_null(Clients::Jwks))
                    .col(text_null(Clients::JwksUri))
                    .col(text_null(Clients::AccessTokenAlg))
                    .col(text_null(Clients::IdTokenAlg))
                    .col(boolean(Clients::FirstParty).default(false))
                    .col(boolean(Clients::RequirePkce).default(true))
                    .col(boolean(Clients::AlwaysIssueRefreshToken).default(false))
                    .col(big_integer(Clients::CreatedAt))
                    .col(big_integer(Clients::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(text_pk(SigningKeys::Kid))
                    .col(text(SigningKeys::Alg))
                    .col(text(SigningKeys::PublicJwk))
                    .col(text(SigningKeys::PrivateSealed))
                    .col(big_integer(SigningKeys::CreatedAt))
                    .col(big_integer_null(SigningKeys::RetiredAt))
                    .to_owned(),
            )
            .await?;

        // Kept even after the client is deleted: the tokens stay revoked until they expire.
        manager
            .create_table(
                Table::create()
                    .table(RevokedTokens::Table)
                    .col(text_pk(RevokedTokens::Jti))
                    .col(text(RevokedTokens::ClientId))
                    .col(big_integer(RevokedTokens::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_revoked_tokens_expires_at",
            RevokedTokens::Table,
            &["expires_at"],
        )
        .await?;

        // The primary key is what makes replay detection atomic across nodes
        // (RFC 7523 section 3, item 7): a second INSERT of the same pair fails.
        manager
            .create_table(
                Table::create()
                    .table(ClientAssertionJtis::Table)
                    .col(text(ClientAssertionJtis::ClientId))
                    .col(text(ClientAssertionJtis::Jti))
                    .col(big_integer(ClientAssertionJtis::ExpiresAt))
                    .primary_key(
                        Index::create()
                            .name("pk_client_assertion_jtis")
                            .col(ClientAssertionJtis::ClientId)
                            .col(ClientAssertionJtis::Jti),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_client_assertion_jtis_expires_at",
            ClientAssertionJtis::Table,
            &["expires_at"],
        )
        .await?;

        // `id` is the OIDC `sub` (OpenID Connect Core section 2): a random UUID, never reused.
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(text_pk(Users::Id))
                    .col(text(Users::Username).unique_key())
                    .col(text(Users::PasswordHash))
                    .col(text_null(Users::Email))
                    .col(boolean(Users::EmailVerified).default(false))
                    .col(text_null(Users::Name))
                    .col(big_integer(Users::CreatedAt))
                    .col(big_integer(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(text_pk(Sessions::IdHash))
                    .col(text(Sessions::UserId))
                    .col(big_integer(Sessions::AuthTime))
                    .col(big_integer(Sessions::CreatedAt))
                    .col(big_integer(Sessions::ExpiresAt))
                    .foreign_key(&mut cascade(
                        "fk_sessions_user",
                        Sessions::Table,
                        Sessions::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_sessions_expires_at",
            Sessions::Table,
            &["expires_at"],
        )
        .await?;
        index(
            manager,
            "idx_sessions_user_id",
            Sessions::Table,
            &["user_id"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Grants::Table)
                    .col(text_pk(Grants::Id))
                    .col(text(Grants::ClientId))
                    .col(text(Grants::UserId))
                    .col(text(Grants::Scope))
                    .col(big_integer(Grants::AuthTime))
                    .col(big_integer(Grants::CreatedAt))
                    .col(big_integer_null(Grants::RevokedAt))
                    .foreign_key(&mut cascade(
                        "fk_grants_client",
                        Grants::Table,
                        Grants::ClientId,
                        Clients::Table,
                        Clients::Id,
                    ))
                    .foreign_key(&mut cascade(
                        "fk_grants_user",
                        Grants::Table,
                        Grants::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_grants_client_user",
            Grants::Table,
            &["client_id", "user_id"],
        )
        .await?;
        index(manager, "idx_grants_user_id", Grants::Table, &["user_id"]).await?;

        // JWT access tokens issued under a grant, so that revoking the grant (refresh token
        // reuse, RFC 9700 section 4.14.2) can revoke them too.
        manager
            .create_table(
                Table::create()
                    .table(GrantAccessTokens::Table)
                    .col(text_pk(GrantAccessTokens::Jti))
                    .col(text(GrantAccessTokens::GrantId))
                    .col(big_integer(GrantAccessTokens::ExpiresAt))
                    .foreign_key(&mut cascade(
                        "fk_grant_access_tokens_grant",
                        GrantAccessTokens::Table,
                        GrantAccessTokens::GrantId,
                        Grants::Table,
                        Grants::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_grant_access_tokens_grant_id",
            GrantAccessTokens::Table,
            &["grant_id"],
        )
        .await?;
        index(
            manager,
            "idx_grant_access_tokens_expires_at",
            GrantAccessTokens::Table,
            &["expires_at"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthorizationCodes::Table)
                    .col(text_pk(AuthorizationCodes::CodeHash))
                    .col(text(AuthorizationCodes::GrantId))
                    .col(text(AuthorizationCodes::ClientId))
                    .col(text(AuthorizationCodes::UserId))
                    .col(text(AuthorizationCodes::RedirectUri))
                    .col(text(AuthorizationCodes::Scope))
                    .col(text_null(AuthorizationCodes::Nonce))
                    .col(text_null(AuthorizationCodes::CodeChallenge))
                    .col(text_null(AuthorizationCodes::CodeChallengeMethod))
                    .col(big_integer(AuthorizationCodes::AuthTime))
                    .col(big_integer(AuthorizationCodes::CreatedAt))
                    .col(big_integer(AuthorizationCodes::ExpiresAt))
                    .col(big_integer_null(AuthorizationCodes::ConsumedAt))
                    .foreign_key(&mut cascade(
                        "fk_authorization_codes_grant",
                        AuthorizationCodes::Table,
                        AuthorizationCodes::GrantId,
                        Grants::Table,
                        Grants::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_authorization_codes_grant_id",
            AuthorizationCodes::Table,
            &["grant_id"],
        )
        .await?;
        index(
            manager,
            "idx_authorization_codes_expires_at",
            AuthorizationCodes::Table,
            &["expires_at"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(text_pk(RefreshTokens::TokenHash))
                    .col(text(RefreshTokens::GrantId))
                    .col(text(RefreshTokens::ClientId))
                    .col(text(RefreshTokens::UserId))
                    .col(text(RefreshTokens::Scope))
                    .col(big_integer(RefreshTokens::AuthTime))
                    .col(big_integer(RefreshTokens::CreatedAt))
                    .col(big_integer(RefreshTokens::ExpiresAt))
                    .col(big_integer_null(RefreshTokens::RotatedAt))
                    .foreign_key(&mut cascade(
                        "fk_refresh_tokens_grant",
                        RefreshTokens::Table,
                        RefreshTokens::GrantId,
                        Grants::Table,
                        Grants::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_refresh_tokens_grant_id",
            RefreshTokens::Table,
            &["grant_id"],
        )
        .await?;
        index(
            manager,
            "idx_refresh_tokens_expires_at",
            RefreshTokens::Table,
            &["expires_at"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Consents::Table)
                    .col(text(Consents::UserId))
                    .col(text(Consents::ClientId))
                    .col(text(Consents::Scope))
                    .col(big_integer(Consents::CreatedAt))
                    .col(big_integer(Consents::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_consents")
                            .col(Consents::UserId)
                            .col(Consents::ClientId),
                    )
                    .foreign_key(&mut cascade(
                        "fk_consents_user",
                        Consents::Table,
                        Consents::UserId,
                        Users::Table,
                        Users::Id,
                    ))
                    .foreign_key(&mut cascade(
                        "fk_consents_client",
                        Consents::Table,
                        Consents::ClientId,
                        Clients::Table,
                        Clients::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_consents_client_id",
            Consents::Table,
            &["client_id"],
        )
        .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children before parents, so that no foreign key blocks a drop.
        let tables: [DynIden; 11] = [
            Consents::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            AuthorizationCodes::Table.into_iden(),
            GrantAccessTokens::Table.into_iden(),
            Grants::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
            ClientAssertionJtis::Table.into_iden(),
            RevokedTokens::Table.into_iden(),
            SigningKeys::Table.into_iden(),
            Clients::Table.into_iden(),
        ];
        for table in tables {
            // Dropping a table drops its indexes with it, on SQLite and PostgreSQL alike.
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
