//! What the account page reads and changes (`AccountRepository`), and the ending of
//! sessions with the logout outbox (the rest of `SessionRepository`): a session ends by
//! being deleted and queued in `logout_outbox` in one transaction, whoever ends it.
use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};

use super::DbResultExt;
use super::Store;
use super::entities::{consent, grant, logout_outbox, session, user};
use super::sessions::session_record;
use crate::crypto::SecretHasher;
use crate::oauth::interaction::sid_for;
use crate::oauth::model::Session;
use crate::oauth::ports::{
    AccountRepository, ConsentRecord, EndedSession, ProfileUpdate, SessionSelection,
};

impl Store {
    /// The person's live sessions, most recently used first.
    pub(super) async fn live_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> anyhow::Result<Vec<Session>> {
        let rows = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::ExpiresAt.gt(now))
            .order_by_desc(session::Column::LastSeenAt)
            .order_by_desc(session::Column::CreatedAt)
            .all(&self.db)
            .await
            .db_context("failed to list the sessions of a user")?;
        Ok(rows.into_iter().map(session_record).collect())
    }

    /// `end_sessions` of the `SessionRepository` port.
    pub(super) async fn end_user_sessions(
        &self,
        user_id: &str,
        which: SessionSelection<'_>,
        now: i64,
    ) -> anyhow::Result<u64> {
        let txn = self
            .db
            .begin()
            .await
            .db_context("failed to begin a transaction")?;
        let ended = end_sessions_in(&txn, &self.hasher, user_id, which, now).await?;
        txn.commit()
            .await
            .db_context("failed to commit ending sessions")?;
        Ok(ended)
    }

    pub(super) async fn outbox_pending(&self, limit: u64) -> anyhow::Result<Vec<EndedSession>> {
        let rows = logout_outbox::Entity::find()
            .order_by_asc(logout_outbox::Column::EndedAt)
            .limit(limit)
            .all(&self.db)
            .await
            .db_context("failed to read the logout outbox")?;
        Ok(rows
            .into_iter()
            .map(|r| EndedSession {
                id_hash: r.session_id_hash,
                user_id: r.user_id,
                // Unreadable (never written so): the clients are then looked up by `sid`.
                client_ids: r.client_ids.and_then(|json| {
                    serde_json::from_str(&json)
                        .inspect_err(|e| {
                            tracing::warn!(error = %e, "unreadable client list in the logout outbox");
                        })
                        .ok()
                }),
            })
            .collect())
    }

    /// Deleting the entry is the claim: of several nodes, exactly one deletes the row.
    pub(super) async fn outbox_claim(&self, id_hash: &str) -> anyhow::Result<bool> {
        let res = logout_outbox::Entity::delete_by_id(id_hash.to_owned())
            .exec(&self.db)
            .await
            .db_context("failed to claim a logout from the outbox")?;
        Ok(res.rows_affected == 1)
    }
}

/// Ends the selected sessions of `user_id` inside the caller's transaction: queues each in
/// the outbox with the clients its grants name (the caller may delete the grants next, as
/// deleting a user does), then deletes it. Returns how many ended.
pub(super) async fn end_sessions_in<C: ConnectionTrait>(
    conn: &C,
    hasher: &SecretHasher,
    user_id: &str,
    which: SessionSelection<'_>,
    now: i64,
) -> anyhow::Result<u64> {
    let mut query = session::Entity::find()
        .select_only()
        .column(session::Column::IdHash)
        .filter(session::Column::UserId.eq(user_id));
    query = match which {
        SessionSelection::All => query,
        SessionSelection::AllBut(keep) => query.filter(session::Column::IdHash.ne(keep)),
        SessionSelection::Only(one) => query.filter(session::Column::IdHash.eq(one)),
    };
    let ids: Vec<String> = query
        .into_tuple()
        .all(conn)
        .await
        .db_context("failed to find the sessions to end")?;
    if ids.is_empty() {
        return Ok(0);
    }
    for chunk in ids.chunks(500) {
        let sids: Vec<String> = chunk.iter().map(|id| sid_for(hasher, id)).collect();
        let mut clients = clients_of_sessions(conn, &sids).await?;
        let mut rows = Vec::with_capacity(chunk.len());
        for (id, sid) in chunk.iter().zip(&sids) {
            let ids: Vec<String> = clients
                .remove(sid)
                .unwrap_or_default()
                .into_iter()
                .collect();
            rows.push(logout_outbox::ActiveModel {
                session_id_hash: Set(id.clone()),
                user_id: Set(user_id.to_owned()),
                ended_at: Set(now),
                client_ids: Set(Some(serde_json::to_string(&ids)?)),
            });
        }
        logout_outbox::Entity::insert_many(rows)
            .on_conflict_do_nothing()
            .exec_without_returning(conn)
            .await
            .db_context("failed to queue back-channel logouts")?;
        session::Entity::delete_many()
            .filter(session::Column::UserId.eq(user_id))
            .filter(session::Column::IdHash.is_in(chunk.iter().map(String::as_str)))
            .exec(conn)
            .await
            .db_context("failed to delete sessions")?;
    }
    Ok(ids.len() as u64)
}

/// The clients granted something in each of the sessions `sids` (Back-Channel Logout).
pub(super) async fn clients_of_sessions<C: ConnectionTrait>(
    conn: &C,
    sids: &[String],
) -> anyhow::Result<BTreeMap<String, BTreeSet<String>>> {
    let pairs: Vec<(String, String)> = grant::Entity::find()
        .select_only()
        .column(grant::Column::Sid)
        .column(grant::Column::ClientId)
        .distinct()
        .filter(grant::Column::Sid.is_in(sids.iter().map(String::as_str)))
        .into_tuple()
        .all(conn)
        .await
        .db_context("failed to list the clients of ended sessions")?;
    let mut clients: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (sid, client_id) in pairs {
        clients.entry(sid).or_default().insert(client_id);
    }
    Ok(clients)
}

#[async_trait]
impl AccountRepository for Store {
    async fn user_consents(&self, user_id: &str) -> anyhow::Result<Vec<ConsentRecord>> {
        let rows = consent::Entity::find()
            .filter(consent::Column::UserId.eq(user_id))
            .all(&self.db)
            .await
            .db_context("failed to list the consents of a user")?;
        Ok(rows
            .into_iter()
            .map(|c| ConsentRecord {
                client_id: c.client_id,
                scope: c.scope,
                created_at: c.created_at,
                updated_at: c.updated_at,
            })
            .collect())
    }

    async fn update_profile(
        &self,
        user_id: &str,
        update: &ProfileUpdate,
        now: i64,
    ) -> anyhow::Result<()> {
        user::Entity::update_many()
            .col_expr(user::Column::Name, Expr::value(update.name.clone()))
            .col_expr(user::Column::Email, Expr::value(update.email.clone()))
            .col_expr(
                user::Column::EmailVerified,
                Expr::value(update.email_verified),
            )
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(user_id))
            .exec(&self.db)
            .await
            .db_context("failed to update a profile")?;
        Ok(())
    }

    async fn set_password_hash(&self, user_id: &str, hash: &str, now: i64) -> anyhow::Result<()> {
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(hash))
            .col_expr(user::Column::UpdatedAt, Expr::value(now))
            .filter(user::Column::Id.eq(user_id))
            .exec(&self.db)
            .await
            .db_context("failed to change a password")?;
        Ok(())
    }

    async fn revoke_client_grants(
        &self,
        user_id: &str,
        client_id: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        let ids: Vec<String> = grant::Entity::find()
            .select_only()
            .column(grant::Column::Id)
            .filter(grant::Column::UserId.eq(user_id))
            .filter(grant::Column::ClientId.eq(client_id))
            .filter(grant::Column::RevokedAt.is_null())
            .into_tuple()
            .all(&self.db)
            .await
            .db_context("failed to find the grants of a client")?;
        for id in ids {
            crate::oauth::ports::GrantRepository::revoke_grant(self, &id, now).await?;
        }
        Ok(())
    }

    async fn delete_consent(&self, user_id: &str, client_id: &str) -> anyhow::Result<bool> {
        let res = consent::Entity::delete_by_id((user_id.to_owned(), client_id.to_owned()))
            .exec(&self.db)
            .await
            .db_context("failed to delete a consent")?;
        Ok(res.rows_affected > 0)
    }
}
