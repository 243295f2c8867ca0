//! Passkeys and WebAuthn ceremonies: the `PasskeyRepository` port.
use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::entities::{passkey, passkey_ceremony};
use super::{DbResultExt, Store, StoreError, write_error};
use crate::oauth::model::{PasskeyCeremony, StoredPasskey};
use crate::oauth::ports::PasskeyRepository;

fn to_passkey(m: passkey::Model) -> StoredPasskey {
    StoredPasskey {
        id: m.id,
        user_id: m.user_id,
        credential_id: m.credential_id,
        user_handle: m.user_handle,
        credential: m.credential,
        name: m.name,
        created_at: m.created_at,
        last_used_at: m.last_used_at,
    }
}

#[async_trait]
impl PasskeyRepository for Store {
    async fn list_passkeys(&self, user_id: &str) -> anyhow::Result<Vec<StoredPasskey>> {
        let rows = passkey::Entity::find()
            .filter(passkey::Column::UserId.eq(user_id))
            .order_by_asc(passkey::Column::CreatedAt)
            .order_by_asc(passkey::Column::Id)
            .all(&self.db)
            .await
            .db_context("failed to list passkeys")?;
        Ok(rows.into_iter().map(to_passkey).collect())
    }

    async fn find_passkey_by_credential_id(
        &self,
        credential_id: &str,
    ) -> anyhow::Result<Option<StoredPasskey>> {
        let row = passkey::Entity::find()
            .filter(passkey::Column::CredentialId.eq(credential_id))
            .one(&self.db)
            .await
            .db_context("failed to look up a passkey")?;
        Ok(row.map(to_passkey))
    }

    async fn create_passkey(&self, p: &StoredPasskey) -> anyhow::Result<bool> {
        let row = passkey::ActiveModel {
            id: Set(p.id.clone()),
            user_id: Set(p.user_id.clone()),
            credential_id: Set(p.credential_id.clone()),
            user_handle: Set(p.user_handle.clone()),
            credential: Set(p.credential.clone()),
            name: Set(p.name.clone()),
            created_at: Set(p.created_at),
            last_used_at: Set(p.last_used_at),
        };
        match passkey::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match write_error(e, || "failed to store a passkey".into()) {
                StoreError::Duplicate => Ok(false),
                StoreError::Other(e) => Err(e),
            },
        }
    }

    async fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> anyhow::Result<bool> {
        let n = passkey::Entity::update_many()
            .col_expr(passkey::Column::Name, Expr::value(name))
            .filter(passkey::Column::Id.eq(id))
            .filter(passkey::Column::UserId.eq(user_id))
            .exec(&self.db)
            .await
            .db_context("failed to rename a passkey")?
            .rows_affected;
        Ok(n == 1)
    }

    async fn delete_passkey(&self, user_id: &str, id: &str) -> anyhow::Result<bool> {
        let n = passkey::Entity::delete_many()
            .filter(passkey::Column::Id.eq(id))
            .filter(passkey::Column::UserId.eq(user_id))
            .exec(&self.db)
            .await
            .db_context("failed to delete a passkey")?
            .rows_affected;
        Ok(n == 1)
    }

    async fn record_passkey_use(&self, id: &str, credential: &str, at: i64) -> anyhow::Result<()> {
        passkey::Entity::update_many()
            .col_expr(passkey::Column::Credential, Expr::value(credential))
            .col_expr(passkey::Column::LastUsedAt, Expr::value(at))
            .filter(passkey::Column::Id.eq(id))
            .exec(&self.db)
            .await
            .db_context("failed to record the use of a passkey")?;
        Ok(())
    }

    async fn create_passkey_ceremony(&self, c: &PasskeyCeremony) -> anyhow::Result<()> {
        let row = passkey_ceremony::ActiveModel {
            id_hash: Set(c.id_hash.clone()),
            kind: Set(c.kind.clone()),
            user_id: Set(c.user_id.clone()),
            state: Set(c.state.clone()),
            created_at: Set(c.created_at),
            expires_at: Set(c.expires_at),
        };
        passkey_ceremony::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .db_context("failed to store a passkey ceremony")?;
        Ok(())
    }

    async fn take_passkey_ceremony(
        &self,
        id_hash: &str,
        now: i64,
    ) -> anyhow::Result<Option<PasskeyCeremony>> {
        let Some(row) = passkey_ceremony::Entity::find_by_id(id_hash.to_owned())
            .one(&self.db)
            .await
            .db_context("failed to look up a passkey ceremony")?
        else {
            return Ok(None);
        };
        // The DELETE decides: only the caller whose statement removed the row may use it,
        // so a ceremony answered twice at once (two nodes) is used once.
        let deleted = passkey_ceremony::Entity::delete_by_id(id_hash.to_owned())
            .exec(&self.db)
            .await
            .db_context("failed to use up a passkey ceremony")?
            .rows_affected;
        if deleted != 1 || row.expires_at <= now {
            return Ok(None);
        }
        Ok(Some(PasskeyCeremony {
            id_hash: row.id_hash,
            kind: row.kind,
            user_id: row.user_id,
            state: row.state,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }))
    }
}
