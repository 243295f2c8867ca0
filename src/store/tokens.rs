//! Token bookkeeping that must hold across nodes: the `private_key_jwt` replay cache, the
//! access-token revocation list.
use std::collections::HashMap;

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter,
    QuerySelect,
};

use super::DbResultExt;
use super::entities::{client_assertion_jti, grant, grant_access_token, revoked_token};
use super::{Store, unix_now};
use crate::domain::ClientId;
use crate::oauth::ports::{AccessTokenRevocations, AssertionReplayCache};

/// Rows per multi-row statement; well under SQLite's and PostgreSQL's parameter limits.
const CHUNK: usize = 500;

#[async_trait]
impl AssertionReplayCache for Store {
    async fn record_assertion_jti(
        &self,
        client_id: &ClientId,
        jti: &str,
        expires_at: i64,
    ) -> anyhow::Result<bool> {
        let now = unix_now();
        let row = client_assertion_jti::ActiveModel {
            client_id: Set(client_id.as_str().to_owned()),
            jti: Set(jti.to_owned()),
            expires_at: Set(expires_at),
        };
        // One statement, decided by the primary key, so two nodes receiving the same
        // assertion at once cannot both accept it (RFC 7523 section 3, item 7). A row left
        // over from an assertion that has since expired is taken over instead of counting
        // as a replay; a live row is never touched, so "0 rows affected" means replay.
        let mut on_conflict = OnConflict::columns([
            client_assertion_jti::Column::ClientId,
            client_assertion_jti::Column::Jti,
        ]);
        on_conflict
            .update_column(client_assertion_jti::Column::ExpiresAt)
            .action_and_where(
                Expr::col((
                    client_assertion_jti::Entity,
                    client_assertion_jti::Column::ExpiresAt,
                ))
                .lt(now),
            );
        let affected = client_assertion_jti::Entity::insert(row)
            .on_conflict(on_conflict)
            .exec_without_returning(&self.db)
            .await
            .with_db_context(|| {
                format!("failed to record the assertion jti of client {client_id}")
            })?;

        // Now and then, clear out expired entries so the table stays small. Any node may
        // do it; the DELETE is idempotent.
        if now_and_then()
            && let Err(e) = client_assertion_jti::Entity::delete_many()
                .filter(client_assertion_jti::Column::ExpiresAt.lt(now))
                .exec(&self.db)
                .await
        {
            tracing::warn!(error = %e, "failed to purge expired client assertion ids");
        }
        Ok(affected > 0)
    }
}

#[async_trait]
impl AccessTokenRevocations for Store {
    async fn revoke_access_token(
        &self,
        jti: &str,
        client_id: &ClientId,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        let row = revoked_token::ActiveModel {
            jti: Set(jti.to_owned()),
            client_id: Set(client_id.as_str().to_owned()),
            expires_at: Set(expires_at),
        };
        // Revoking twice is not an error (RFC 7009 section 2.2).
        revoked_token::Entity::insert(row)
            .on_conflict_do_nothing()
            .exec_without_returning(&self.db)
            .await
            .db_context("failed to record a revoked access token")?;
        self.revoked_ids.add(jti);
        // A revoked token past its expiry is rejected anyway; drop such rows now and then.
        if now_and_then()
            && let Err(e) = revoked_token::Entity::delete_many()
                .filter(revoked_token::Column::ExpiresAt.lt(unix_now()))
                .exec(&self.db)
                .await
        {
            tracing::warn!(error = %e, "failed to purge expired revoked tokens");
        }
        Ok(())
    }

    async fn is_access_token_revoked(&self, jti: &str) -> anyhow::Result<bool> {
        if let Some(revoked) = self.revoked_ids.lookup(jti) {
            return Ok(revoked);
        }
        let row = revoked_token::Entity::find_by_id(jti.to_owned())
            .one(&self.db)
            .await
            .db_context("failed to look up a revoked access token")?;
        Ok(row.is_some())
    }
}

impl Store {
    /// Reloads the in-memory set of revoked access-token ids (see `caches::RevokedIds`):
    /// the ids of every revoked token that has not expired.
    pub async fn reload_revoked_ids(&self) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let ids = revoked_token::Entity::find()
            .select_only()
            .column(revoked_token::Column::Jti)
            .filter(revoked_token::Column::ExpiresAt.gt(unix_now()))
            .into_tuple::<String>()
            .all(&self.db)
            .await
            .db_context("failed to load the revoked access token ids")?;
        self.revoked_ids.replace(ids.into_iter().collect(), started);
        Ok(())
    }

    /// After a write that may have revoked access tokens in bulk (a grant, a user or a
    /// client): reload at once, so this node honours it without waiting for the refresh.
    pub(super) async fn revocations_changed(&self) {
        if self.revoked_ids.enabled()
            && let Err(e) = self.reload_revoked_ids().await
        {
            tracing::warn!(
                error = format!("{e:#}"),
                "reloading revoked access token ids failed"
            );
        }
    }

    /// Loads the revoked access-token ids, then reloads them every
    /// `cache.revocation_refresh`; `None` when that cache is off.
    pub async fn spawn_revocation_refresher(
        &self,
    ) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
        if !self.revoked_ids.enabled() {
            return Ok(None);
        }
        self.reload_revoked_ids().await?;
        let store = self.clone();
        let every = self.revoked_ids.refresh_interval();
        Ok(Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = store.reload_revoked_ids().await {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "reloading revoked access token ids failed"
                    );
                }
            }
        })))
    }
}

/// True for about one call in 64: how often writers also purge expired rows, so that the
/// cost is spread thinly without a scheduler.
fn now_and_then() -> bool {
    crate::crypto::random_bytes::<1>()[0] < 4
}

/// Adds every unexpired access token issued under the grants where `column = value` to the
/// revocation list; used before grants are deleted by cascade, since a JWT access token
/// would otherwise stay valid until it expires.
pub(super) async fn revoke_grant_access_tokens<C: ConnectionTrait>(
    conn: &C,
    column: grant::Column,
    value: &str,
    now: i64,
) -> anyhow::Result<()> {
    let grants = grant::Entity::find()
        .filter(column.eq(value))
        .all(conn)
        .await
        .db_context("failed to load grants")?;
    let client_of: HashMap<String, String> =
        grants.into_iter().map(|g| (g.id, g.client_id)).collect();
    let ids: Vec<&String> = client_of.keys().collect();
    for chunk in ids.chunks(CHUNK) {
        let tokens = grant_access_token::Entity::find()
            .filter(grant_access_token::Column::GrantId.is_in(chunk.iter().map(|s| s.as_str())))
            .filter(grant_access_token::Column::ExpiresAt.gte(now))
            .all(conn)
            .await
            .db_context("failed to load access tokens of grants")?;
        for batch in tokens.chunks(CHUNK) {
            let rows = batch.iter().map(|t| revoked_token::ActiveModel {
                jti: Set(t.jti.clone()),
                client_id: Set(client_of.get(&t.grant_id).cloned().unwrap_or_default()),
                expires_at: Set(t.expires_at),
            });
            revoked_token::Entity::insert_many(rows)
                .on_conflict_do_nothing()
                .exec_without_returning(conn)
                .await
                .db_context("failed to record revoked access tokens")?;
        }
    }
    Ok(())
}
