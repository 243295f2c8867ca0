//! Browser sessions and remembered consents: the `SessionRepository` and
//! `ConsentRepository` ports.
use async_trait::async_trait;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::DbResultExt;
use super::Store;
use super::entities::{consent, session};
use crate::oauth::authn::{amr_from_text, amr_to_text};
use crate::oauth::model::Session;
use crate::oauth::ports::{ConsentRepository, EndedSession, SessionRepository, SessionSelection};

/// A session as its `sessions` row (also written with a grant and its code,
/// `store/grants.rs`).
pub(super) fn session_row(s: &Session) -> session::ActiveModel {
    session::ActiveModel {
        id_hash: Set(s.id_hash.clone()),
        user_id: Set(s.user_id.clone()),
        auth_time: Set(s.auth_time),
        created_at: Set(s.created_at),
        expires_at: Set(s.expires_at),
        amr: Set(amr_to_text(&s.amr)),
        last_seen_at: Set(s.last_seen_at),
        device: Set(s.device.clone()),
        source_ip: Set(s.source_ip.clone()),
    }
}

#[async_trait]
impl SessionRepository for Store {
    async fn create_session(&self, s: &Session) -> anyhow::Result<()> {
        session::Entity::insert(session_row(s))
            .exec_without_returning(&self.db)
            .await
            .db_context("failed to create a session")?;
        Ok(())
    }

    async fn find_session(&self, id_hash: &str, now: i64) -> anyhow::Result<Option<Session>> {
        let row = session::Entity::find_by_id(id_hash.to_owned())
            .filter(session::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await
            .db_context("failed to look up a session")?;
        Ok(row.map(session_record))
    }

    async fn delete_session(&self, id_hash: &str) -> anyhow::Result<()> {
        session::Entity::delete_by_id(id_hash.to_owned())
            .exec(&self.db)
            .await
            .db_context("failed to delete a session")?;
        Ok(())
    }

    async fn touch_session(&self, id_hash: &str, now: i64) -> anyhow::Result<()> {
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(now))
            .filter(session::Column::IdHash.eq(id_hash))
            .filter(session::Column::LastSeenAt.lt(now))
            .exec(&self.db)
            .await
            .db_context("failed to record that a session was used")?;
        Ok(())
    }

    async fn user_sessions(&self, user_id: &str, now: i64) -> anyhow::Result<Vec<Session>> {
        self.live_sessions(user_id, now).await
    }

    async fn end_sessions(
        &self,
        user_id: &str,
        which: SessionSelection<'_>,
        now: i64,
    ) -> anyhow::Result<u64> {
        self.end_user_sessions(user_id, which, now).await
    }

    async fn pending_logouts(&self, limit: u64) -> anyhow::Result<Vec<EndedSession>> {
        self.outbox_pending(limit).await
    }

    async fn claim_logout(&self, id_hash: &str) -> anyhow::Result<bool> {
        self.outbox_claim(id_hash).await
    }
}

pub(super) fn session_record(m: session::Model) -> Session {
    Session {
        id_hash: m.id_hash,
        user_id: m.user_id,
        auth_time: m.auth_time,
        expires_at: m.expires_at,
        amr: amr_from_text(&m.amr),
        created_at: m.created_at,
        last_seen_at: m.last_seen_at,
        device: m.device,
        source_ip: m.source_ip,
    }
}

#[async_trait]
impl ConsentRepository for Store {
    async fn find_consent(&self, user_id: &str, client_id: &str) -> anyhow::Result<Option<String>> {
        let row = consent::Entity::find_by_id((user_id.to_owned(), client_id.to_owned()))
            .one(&self.db)
            .await
            .with_db_context(|| format!("failed to look up consent for client {client_id}"))?;
        Ok(row.map(|m| m.scope))
    }

    async fn save_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        let row = consent::ActiveModel {
            user_id: Set(user_id.to_owned()),
            client_id: Set(client_id.to_owned()),
            scope: Set(scope.to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
        };
        // One upsert, so two concurrent approvals cannot collide on the primary key.
        let on_conflict = OnConflict::columns([consent::Column::UserId, consent::Column::ClientId])
            .update_columns([consent::Column::Scope, consent::Column::UpdatedAt])
            .to_owned();
        consent::Entity::insert(row)
            .on_conflict(on_conflict)
            .exec_without_returning(&self.db)
            .await
            .with_db_context(|| format!("failed to save consent for client {client_id}"))?;
        Ok(())
    }
}
