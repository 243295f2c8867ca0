//! Signing keys: the `keys::KeyRepository` port.
use anyhow::Context;
use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use super::DbResultExt;
use super::Store;
use super::entities::signing_key;
use crate::domain::SigningAlg;
use crate::keys::repository::{KeyRepository, StoredKey};

#[async_trait]
impl KeyRepository for Store {
    async fn list_signing_keys(&self) -> anyhow::Result<Vec<StoredKey>> {
        let rows = signing_key::Entity::find()
            .order_by_asc(signing_key::Column::CreatedAt)
            .order_by_asc(signing_key::Column::Kid)
            .all(&self.db)
            .await
            .db_context("failed to list signing keys")?;
        rows.into_iter()
            .map(|m| {
                let alg = SigningAlg::parse(&m.alg)
                    .with_context(|| format!("stored signing key {:?} is invalid", m.kid))?;
                Ok(StoredKey {
                    kid: m.kid,
                    alg,
                    public_jwk: m.public_jwk,
                    private_sealed: m.private_sealed,
                    created_at: m.created_at,
                    retired_at: m.retired_at,
                    activates_at: m.activates_at,
                })
            })
            .collect()
    }

    async fn insert_signing_key(&self, key: &StoredKey) -> anyhow::Result<()> {
        signing_key::Entity::insert(active_model(key))
            .exec_without_returning(&self.db)
            .await
            .with_db_context(|| format!("failed to insert signing key {}", key.kid))?;
        Ok(())
    }

    async fn retire_signing_keys(
        &self,
        alg: SigningAlg,
        keep_kid: &str,
        at: i64,
    ) -> anyhow::Result<()> {
        retire_others(&self.db, alg, keep_kid, at).await
    }

    async fn insert_successor_key(
        &self,
        key: &StoredKey,
        predecessor_kid: Option<&str>,
    ) -> anyhow::Result<bool> {
        let txn = self
            .db
            .begin()
            .await
            .db_context("failed to begin the key rotation")?;
        if let Some(p) = predecessor_kid {
            // The row lock of this UPDATE makes a concurrent rotation of the same key wait,
            // then find `retired_at` set and change nothing.
            let claimed = signing_key::Entity::update_many()
                .col_expr(
                    signing_key::Column::RetiredAt,
                    Expr::value(key.activates_at),
                )
                .filter(signing_key::Column::Kid.eq(p))
                .filter(signing_key::Column::RetiredAt.is_null())
                .exec(&txn)
                .await
                .with_db_context(|| format!("failed to retire signing key {p}"))?;
            if claimed.rows_affected == 0 {
                txn.rollback()
                    .await
                    .db_context("failed to roll back the key rotation")?;
                return Ok(false);
            }
        }
        signing_key::Entity::insert(active_model(key))
            .exec_without_returning(&txn)
            .await
            .with_db_context(|| format!("failed to insert signing key {}", key.kid))?;
        retire_others(&txn, key.alg, &key.kid, key.activates_at).await?;
        txn.commit()
            .await
            .db_context("failed to commit the key rotation")?;
        Ok(true)
    }

    async fn delete_signing_keys_retired_before(&self, before: i64) -> anyhow::Result<u64> {
        let res = signing_key::Entity::delete_many()
            .filter(signing_key::Column::RetiredAt.is_not_null())
            .filter(signing_key::Column::RetiredAt.lt(before))
            .exec(&self.db)
            .await
            .db_context("failed to delete retired signing keys")?;
        Ok(res.rows_affected)
    }
}

fn active_model(key: &StoredKey) -> signing_key::ActiveModel {
    signing_key::ActiveModel {
        kid: Set(key.kid.clone()),
        alg: Set(key.alg.as_str().to_owned()),
        public_jwk: Set(key.public_jwk.clone()),
        private_sealed: Set(key.private_sealed.clone()),
        created_at: Set(key.created_at),
        retired_at: Set(key.retired_at),
        activates_at: Set(key.activates_at),
    }
}

/// Retires, as of `at`, every key of `alg` but `keep_kid` that is not retired by then.
async fn retire_others<C: ConnectionTrait>(
    conn: &C,
    alg: SigningAlg,
    keep_kid: &str,
    at: i64,
) -> anyhow::Result<()> {
    signing_key::Entity::update_many()
        .col_expr(signing_key::Column::RetiredAt, Expr::value(at))
        .filter(signing_key::Column::Alg.eq(alg.as_str()))
        .filter(
            sea_orm::Condition::any()
                .add(signing_key::Column::RetiredAt.is_null())
                .add(signing_key::Column::RetiredAt.gt(at)),
        )
        .filter(signing_key::Column::Kid.ne(keep_kid))
        .exec(conn)
        .await
        .with_db_context(|| format!("failed to retire {alg} signing keys"))?;
    Ok(())
}
