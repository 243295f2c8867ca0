//! End-user accounts: the `UserRepository` port and the operator queries.
use anyhow::Context;
use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

use super::DbResultExt;
use super::entities::{grant, totp_authenticator as totp, user};
use super::{Store, StoreError, tokens, unix_now, write_error};
use crate::crypto::SecretHasher;
use crate::oauth::model::{SignInUser, User};
use crate::oauth::ports::{SessionSelection, UserRepository};

/// A user with its bookkeeping timestamps, for operator listings.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(super) fn to_user(m: user::Model) -> User {
    User {
        id: m.id,
        username: m.username,
        password_hash: m.password_hash,
        email: m.email,
        email_verified: m.email_verified,
        name: m.name,
    }
}

#[async_trait]
impl UserRepository for Store {
    async fn find_user_by_id(&self, id: &str) -> anyhow::Result<Option<User>> {
        let row = user::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await
            .with_db_context(|| format!("failed to look up user id {id:?}"))?;
        Ok(row.map(to_user))
    }

    async fn find_user_by_username(&self, username: &str) -> anyhow::Result<Option<User>> {
        Ok(user_by_username(&self.db, username).await?.map(to_user))
    }

    async fn find_user_for_sign_in(&self, username: &str) -> anyhow::Result<Option<SignInUser>> {
        let confirmed_authenticator = Query::select()
            .expr(Expr::val(1))
            .from(totp::Entity)
            .and_where(
                Expr::col((totp::Entity, totp::Column::UserId))
                    .equals((user::Entity, user::Column::Id)),
            )
            .and_where(Expr::col((totp::Entity, totp::Column::ConfirmedAt)).is_not_null())
            .to_owned();
        let row = user::Entity::find()
            .filter(user::Column::Username.eq(username))
            .column_as(Expr::exists(confirmed_authenticator), "has_authenticator")
            .into_model::<UserForSignIn>()
            .one(&self.db)
            .await
            .with_db_context(|| format!("failed to look up user {username:?}"))?;
        Ok(row.map(|r| SignInUser {
            user: to_user(r.user),
            has_authenticator: r.has_authenticator,
        }))
    }
}

/// A `users` row with whether the user has a confirmed authenticator.
#[derive(FromQueryResult)]
struct UserForSignIn {
    #[sea_orm(nested)]
    user: user::Model,
    has_authenticator: bool,
}

impl Store {
    /// Inserts a new user created at `now`; `StoreError::Duplicate` when the username (or
    /// id) is taken.
    pub async fn insert_user(&self, u: &User, now: i64) -> Result<(), StoreError> {
        let row = user::ActiveModel {
            id: Set(u.id.clone()),
            username: Set(u.username.clone()),
            password_hash: Set(u.password_hash.clone()),
            email: Set(u.email.clone()),
            email_verified: Set(u.email_verified),
            name: Set(u.name.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        };
        user::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| write_error(e, || format!("failed to insert user {}", u.username)))?;
        Ok(())
    }

    /// Every user, ordered by username.
    pub async fn list_users(&self) -> anyhow::Result<Vec<UserRecord>> {
        let rows = user::Entity::find()
            .order_by_asc(user::Column::Username)
            .all(&self.db)
            .await
            .db_context("failed to list users")?;
        Ok(rows
            .into_iter()
            .map(|m| UserRecord {
                created_at: m.created_at,
                updated_at: m.updated_at,
                user: to_user(m),
            })
            .collect())
    }

    /// Sets a new password hash and ends every session of the user (a password is often
    /// reset because the old one leaked). Returns false when there was no such user.
    pub async fn set_user_password_hash(
        &self,
        username: &str,
        password_hash: &str,
    ) -> anyhow::Result<bool> {
        let txn = self
            .db
            .begin()
            .await
            .db_context("failed to begin a transaction")?;
        let Some(found) = user_by_username(&txn, username).await? else {
            return Ok(false);
        };
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
            .col_expr(user::Column::UpdatedAt, Expr::value(unix_now()))
            .filter(user::Column::Id.eq(found.id.clone()))
            .exec(&txn)
            .await
            .with_db_context(|| format!("failed to update the password of user {username:?}"))?;
        end_all_sessions(&txn, &self.hasher, &found.id, username).await?;
        txn.commit()
            .await
            .db_context("failed to commit a password change")?;
        Ok(true)
    }

    /// Deletes the user and, through the foreign keys, its consents, grants and the codes and
    /// refresh tokens issued under them. Its sessions are ended first like a sign-out (queued
    /// in the logout outbox with their clients, for a server to send the back-channel
    /// logouts), and access tokens issued under its grants are added to the revocation list.
    /// Returns false when there was no such user.
    pub async fn delete_user(&self, username: &str) -> anyhow::Result<bool> {
        let txn = self
            .db
            .begin()
            .await
            .db_context("failed to begin a transaction")?;
        let Some(found) = user_by_username(&txn, username).await? else {
            return Ok(false);
        };
        end_all_sessions(&txn, &self.hasher, &found.id, username).await?;
        tokens::revoke_grant_access_tokens(&txn, grant::Column::UserId, &found.id, unix_now())
            .await
            .with_context(|| format!("failed to revoke access tokens of user {username:?}"))?;
        let res = user::Entity::delete_by_id(found.id)
            .exec(&txn)
            .await
            .with_db_context(|| format!("failed to delete user {username:?}"))?;
        txn.commit()
            .await
            .with_db_context(|| format!("failed to commit deleting user {username:?}"))?;
        self.revocations_changed().await;
        Ok(res.rows_affected > 0)
    }
}

/// Ends every session of the user inside the caller's transaction, queued in the logout
/// outbox: a server delivers the back-channel logouts (the caller may be the CLI, which
/// cannot).
async fn end_all_sessions<C: ConnectionTrait>(
    txn: &C,
    hasher: &SecretHasher,
    user_id: &str,
    username: &str,
) -> anyhow::Result<()> {
    super::account::end_sessions_in(txn, hasher, user_id, SessionSelection::All, unix_now())
        .await
        .with_context(|| format!("failed to end the sessions of user {username:?}"))?;
    Ok(())
}

/// The row of `username`, on a connection or inside the caller's transaction.
async fn user_by_username<C: ConnectionTrait>(
    conn: &C,
    username: &str,
) -> anyhow::Result<Option<user::Model>> {
    user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(conn)
        .await
        .with_db_context(|| format!("failed to look up user {username:?}"))
}
