//! Grants and what is issued under them: the `GrantRepository` port. Codes and refresh
//! tokens are consumed with a conditional UPDATE, so of two nodes racing to use the same
//! one, exactly one wins.
use anyhow::Context;
use async_trait::async_trait;
use sea_orm::sea_query::{
    Alias, Asterisk, CommonTableExpression, Expr, ExprTrait, InsertStatement, Query, WithClause,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult,
    IdenStatic, Iterable, QueryFilter, QueryTrait, TransactionTrait,
};

use super::DbResultExt;
use super::entities::{
    authorization_code, grant, grant_access_token, refresh_token, session, user,
};
use super::sessions::session_row;
use super::users::to_user;
use super::{Store, tokens};
use crate::oauth::authn::{amr_from_text, amr_to_text};
use crate::oauth::model::{AuthorizationCode, Grant, RefreshToken, Session};
use crate::oauth::ports::{CodeRedemption, GrantRepository, RedeemedCode, UserRepository};

#[async_trait]
impl GrantRepository for Store {
    async fn create_grant_with_code(
        &self,
        g: &Grant,
        c: &AuthorizationCode,
        new_session: Option<&Session>,
    ) -> anyhow::Result<()> {
        let session = new_session.map(|s| session::Entity::insert(session_row(s)).into_query());
        let grant = grant::Entity::insert(grant_row(g)).into_query();
        let code = authorization_code::Entity::insert(code_row(c)).into_query();
        let context = || {
            format!(
                "failed to store a grant and its code for client {}",
                g.client_id
            )
        };
        if self.db.get_database_backend() == DbBackend::Postgres {
            // `WITH [new_session AS (INSERT INTO sessions ...),] new_grant AS (INSERT INTO
            // grants ...) INSERT INTO authorization_codes ...`: one statement, so all rows or
            // none, in one round trip and one commit.
            let mut with = WithClause::new();
            if let Some(session) = session {
                with.cte(
                    CommonTableExpression::new()
                        .query(session)
                        .table_name("new_session")
                        .to_owned(),
                );
            }
            with.cte(
                CommonTableExpression::new()
                    .query(grant)
                    .table_name("new_grant")
                    .to_owned(),
            );
            let all = with.query(code);
            self.db.execute(&all).await.with_db_context(context)?;
            return Ok(());
        }
        // SQLite has no INSERT in WITH: a transaction (in process, no round trips).
        let txn = self
            .db
            .begin()
            .await
            .db_context("failed to begin a transaction")?;
        if let Some(session) = session {
            txn.execute(&session)
                .await
                .db_context("failed to create a session")?;
        }
        txn.execute(&grant).await.with_db_context(context)?;
        txn.execute(&code).await.with_db_context(context)?;
        txn.commit()
            .await
            .db_context("failed to commit a grant and its code")?;
        Ok(())
    }

    async fn find_grant(&self, id: &str) -> anyhow::Result<Option<Grant>> {
        let row = grant::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await
            .db_context("failed to look up a grant")?;
        Ok(row.map(|m| Grant {
            id: m.id,
            client_id: m.client_id,
            user_id: m.user_id,
            scope: m.scope,
            auth_time: m.auth_time,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
            sid: m.sid,
            amr: amr_from_text(&m.amr),
        }))
    }

    async fn session_clients(&self, sid: &str) -> anyhow::Result<Vec<String>> {
        let mut by_sid = super::account::clients_of_sessions(&self.db, &[sid.to_owned()]).await?;
        Ok(by_sid.remove(sid).unwrap_or_default().into_iter().collect())
    }

    async fn revoke_grant(&self, id: &str, now: i64) -> anyhow::Result<()> {
        let txn = self
            .db
            .begin()
            .await
            .db_context("failed to begin a transaction")?;
        grant::Entity::update_many()
            .col_expr(grant::Column::RevokedAt, Expr::value(now))
            .filter(grant::Column::Id.eq(id))
            .filter(grant::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .db_context("failed to mark a grant revoked")?;
        refresh_token::Entity::delete_many()
            .filter(refresh_token::Column::GrantId.eq(id))
            .exec(&txn)
            .await
            .db_context("failed to delete the refresh tokens of a grant")?;
        // Consumed codes stay until they expire, so that a replayed code is still recognised
        // and revokes the grant again (RFC 6749 section 4.1.2).
        authorization_code::Entity::delete_many()
            .filter(authorization_code::Column::GrantId.eq(id))
            .filter(authorization_code::Column::ConsumedAt.is_null())
            .exec(&txn)
            .await
            .db_context("failed to delete the unused codes of a grant")?;
        tokens::revoke_grant_access_tokens(&txn, grant::Column::Id, id, now)
            .await
            .context("failed to revoke the access tokens of a grant")?;
        txn.commit()
            .await
            .db_context("failed to commit revoking a grant")?;
        self.revocations_changed().await;
        Ok(())
    }

    async fn redeem_authorization_code(
        &self,
        code_hash: &str,
        client_id: &str,
        now: i64,
    ) -> anyhow::Result<CodeRedemption> {
        // RFC 6749 section 4.1.2: a code is used once. The WHERE clause makes the check and
        // the write one atomic statement, and RETURNING hands the code back with it.
        let redeem = authorization_code::Entity::update_many()
            .col_expr(authorization_code::Column::ConsumedAt, Expr::value(now))
            .filter(authorization_code::Column::CodeHash.eq(code_hash))
            .filter(authorization_code::Column::ClientId.eq(client_id))
            .filter(authorization_code::Column::ConsumedAt.is_null());
        if let Some(redeemed) = self.redeem_with_user(redeem).await? {
            return Ok(CodeRedemption::Redeemed(Box::new(redeemed)));
        }
        // Why not: one more statement, on this path only.
        Ok(match self.find_authorization_code(code_hash).await? {
            Some(c) if c.client_id != client_id => CodeRedemption::OtherClient,
            Some(c) if c.consumed_at.is_some() => CodeRedemption::AlreadyUsed {
                grant_id: c.grant_id,
            },
            _ => CodeRedemption::Unknown,
        })
    }

    async fn access_token_grant(&self, jti: &str) -> anyhow::Result<Option<String>> {
        let row = grant_access_token::Entity::find_by_id(jti.to_owned())
            .one(&self.db)
            .await
            .db_context("failed to find the grant of an access token")?;
        Ok(row.map(|r| r.grant_id))
    }

    async fn record_grant_tokens(
        &self,
        grant_id: &str,
        jti: &str,
        expires_at: i64,
        refresh_token: Option<&RefreshToken>,
    ) -> anyhow::Result<bool> {
        let record = access_token_record_if_live(grant_id, jti, expires_at)?;
        let Some(t) = refresh_token else {
            let res = self
                .db
                .execute(&record)
                .await
                .db_context("failed to record an access token of a grant")?;
            return Ok(res.rows_affected() == 1);
        };
        let txn = self
            .db
            .begin()
            .await
            .db_context("failed to begin a transaction")?;
        refresh_token::Entity::insert(refresh_row(t))
            .exec_without_returning(&txn)
            .await
            .with_db_context(|| {
                format!("failed to store a refresh token for client {}", t.client_id)
            })?;
        let live = txn
            .execute(&record)
            .await
            .db_context("failed to record an access token of a grant")?
            .rows_affected()
            == 1;
        if live {
            txn.commit()
                .await
                .db_context("failed to commit the tokens of a grant")?;
        } else {
            txn.rollback()
                .await
                .db_context("failed to roll back the tokens of a grant")?;
        }
        Ok(live)
    }

    async fn find_refresh_token(&self, token_hash: &str) -> anyhow::Result<Option<RefreshToken>> {
        let row = refresh_token::Entity::find_by_id(token_hash.to_owned())
            .one(&self.db)
            .await
            .db_context("failed to look up a refresh token")?;
        Ok(row.map(|m| RefreshToken {
            token_hash: m.token_hash,
            grant_id: m.grant_id,
            client_id: m.client_id,
            user_id: m.user_id,
            scope: m.scope,
            auth_time: m.auth_time,
            created_at: m.created_at,
            expires_at: m.expires_at,
            rotated_at: m.rotated_at,
        }))
    }

    async fn mark_refresh_token_rotated(&self, token_hash: &str, now: i64) -> anyhow::Result<bool> {
        let res = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
            .filter(refresh_token::Column::TokenHash.eq(token_hash))
            .filter(refresh_token::Column::RotatedAt.is_null())
            .exec(&self.db)
            .await
            .db_context("failed to mark a refresh token rotated")?;
        Ok(res.rows_affected == 1)
    }
}

impl Store {
    /// Runs the conditional UPDATE of a code's redemption and reads the code's user with
    /// it. On PostgreSQL one statement, `WITH redeemed AS (UPDATE ... RETURNING *) SELECT
    /// redeemed.*, users.* FROM redeemed LEFT JOIN users ...`: one round trip, and the
    /// code is consumed whether or not its user still exists. SQLite has no UPDATE in WITH
    /// and no joined columns in RETURNING: the user is read after it (in process).
    async fn redeem_with_user(
        &self,
        redeem: sea_orm::UpdateMany<authorization_code::Entity>,
    ) -> anyhow::Result<Option<RedeemedCode>> {
        const CONTEXT: &str = "failed to consume an authorization code";
        if self.db.get_database_backend() != DbBackend::Postgres {
            let Some(row) = redeem
                .exec_with_returning(&self.db)
                .await
                .db_context(CONTEXT)?
                .into_iter()
                .next()
            else {
                return Ok(None);
            };
            let code = code_from_row(row);
            let user = self.find_user_by_id(&code.user_id).await?;
            return Ok(Some(RedeemedCode { code, user }));
        }
        let redeemed = Alias::new("redeemed");
        let mut update = redeem.into_query();
        update.returning_all();
        let mut select = Query::select();
        select
            .column((redeemed.clone(), Asterisk))
            .from(redeemed.clone());
        for col in user::Column::iter() {
            select.expr_as(
                Expr::col((user::Entity, col)),
                Alias::new(format!("{USER_PREFIX}{}", col.as_str())),
            );
        }
        select.left_join(
            user::Entity,
            Expr::col((user::Entity, user::Column::Id))
                .equals((redeemed.clone(), authorization_code::Column::UserId)),
        );
        let statement = WithClause::new()
            .cte(
                CommonTableExpression::new()
                    .query(update)
                    .table_name(redeemed)
                    .to_owned(),
            )
            .to_owned()
            .query(select);
        let Some(row) = self.db.query_one(&statement).await.db_context(CONTEXT)? else {
            return Ok(None);
        };
        let code = authorization_code::Model::from_query_result(&row, "").db_context(CONTEXT)?;
        let user_id: Option<String> = row
            .try_get(USER_PREFIX, user::Column::Id.as_str())
            .db_context(CONTEXT)?;
        let user = match user_id {
            Some(_) => Some(to_user(
                user::Model::from_query_result(&row, USER_PREFIX).db_context(CONTEXT)?,
            )),
            None => None,
        };
        Ok(Some(RedeemedCode {
            code: code_from_row(code),
            user,
        }))
    }

    /// An authorization code by its hash, used or not (for telling why a redemption
    /// failed, and for tests).
    pub(crate) async fn find_authorization_code(
        &self,
        code_hash: &str,
    ) -> anyhow::Result<Option<AuthorizationCode>> {
        let row = authorization_code::Entity::find_by_id(code_hash.to_owned())
            .one(&self.db)
            .await
            .db_context("failed to look up an authorization code")?;
        Ok(row.map(code_from_row))
    }
}

/// The prefix of the user's columns in the statement that redeems a code.
const USER_PREFIX: &str = "u_";

/// `INSERT INTO grant_access_tokens ... SELECT ... FROM grants WHERE id = grant_id AND
/// revoked_at IS NULL FOR SHARE`: the access token's record, only under a live grant, in one
/// statement. On PostgreSQL the grant's row is read `FOR SHARE`: the statement waits for a
/// revocation holding it and then sees it revoked, and a revocation starting later waits
/// for this transaction and then finds the record. On SQLite the statement holds the write
/// lock, which a revocation needs too.
fn access_token_record_if_live(
    grant_id: &str,
    jti: &str,
    expires_at: i64,
) -> anyhow::Result<InsertStatement> {
    let live_grant = Query::select()
        .exprs([Expr::val(jti), Expr::val(grant_id), Expr::val(expires_at)])
        .from(grant::Entity)
        .and_where(grant::Column::Id.eq(grant_id))
        .and_where(grant::Column::RevokedAt.is_null())
        .lock_shared()
        .to_owned();
    Ok(Query::insert()
        .into_table(grant_access_token::Entity)
        .columns([
            grant_access_token::Column::Jti,
            grant_access_token::Column::GrantId,
            grant_access_token::Column::ExpiresAt,
        ])
        .select_from(live_grant)
        .context("building the access token record")?
        .to_owned())
}

fn grant_row(g: &Grant) -> grant::ActiveModel {
    grant::ActiveModel {
        id: Set(g.id.clone()),
        client_id: Set(g.client_id.clone()),
        user_id: Set(g.user_id.clone()),
        scope: Set(g.scope.clone()),
        auth_time: Set(g.auth_time),
        created_at: Set(g.created_at),
        revoked_at: Set(g.revoked_at),
        sid: Set(g.sid.clone()),
        amr: Set(amr_to_text(&g.amr)),
    }
}

fn code_row(c: &AuthorizationCode) -> authorization_code::ActiveModel {
    authorization_code::ActiveModel {
        code_hash: Set(c.code_hash.clone()),
        grant_id: Set(c.grant_id.clone()),
        client_id: Set(c.client_id.clone()),
        user_id: Set(c.user_id.clone()),
        redirect_uri: Set(c.redirect_uri.clone()),
        scope: Set(c.scope.clone()),
        nonce: Set(c.nonce.clone()),
        code_challenge: Set(c.code_challenge.clone()),
        code_challenge_method: Set(c.code_challenge_method.clone()),
        auth_time: Set(c.auth_time),
        created_at: Set(c.created_at),
        expires_at: Set(c.expires_at),
        consumed_at: Set(c.consumed_at),
        sid: Set(c.sid.clone()),
        amr: Set(amr_to_text(&c.amr)),
    }
}

fn code_from_row(m: authorization_code::Model) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: m.code_hash,
        grant_id: m.grant_id,
        client_id: m.client_id,
        user_id: m.user_id,
        redirect_uri: m.redirect_uri,
        scope: m.scope,
        nonce: m.nonce,
        code_challenge: m.code_challenge,
        code_challenge_method: m.code_challenge_method,
        auth_time: m.auth_time,
        created_at: m.created_at,
        expires_at: m.expires_at,
        consumed_at: m.consumed_at,
        sid: m.sid,
        amr: amr_from_text(&m.amr),
    }
}

fn refresh_row(t: &RefreshToken) -> refresh_token::ActiveModel {
    refresh_token::ActiveModel {
        token_hash: Set(t.token_hash.clone()),
        grant_id: Set(t.grant_id.clone()),
        client_id: Set(t.client_id.clone()),
        user_id: Set(t.user_id.clone()),
        scope: Set(t.scope.clone()),
        auth_time: Set(t.auth_time),
        created_at: Set(t.created_at),
        expires_at: Set(t.expires_at),
        rotated_at: Set(t.rotated_at),
    }
}
