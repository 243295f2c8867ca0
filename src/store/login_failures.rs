//! Failed sign-in attempts: the `LoginThrottle` port.
use async_trait::async_trait;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::DbResultExt;
use super::Store;
use super::entities::login_failure;
use crate::crypto::random_token;
use crate::oauth::ports::LoginThrottle;

#[async_trait]
impl LoginThrottle for Store {
    async fn count_login_failures(&self, subject: &str, since: i64) -> anyhow::Result<u64> {
        login_failure::Entity::find()
            .filter(login_failure::Column::Subject.eq(subject))
            .filter(login_failure::Column::At.gte(since))
            .count(&self.db)
            .await
            .db_context("failed to count failed sign-ins")
    }

    async fn record_login_failure(&self, subject: &str, at: i64) -> anyhow::Result<()> {
        let row = login_failure::ActiveModel {
            id: Set(random_token()),
            subject: Set(subject.to_owned()),
            at: Set(at),
        };
        login_failure::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
            .db_context("failed to record a failed sign-in")?;
        Ok(())
    }

    async fn clear_login_failures(&self, subject: &str) -> anyhow::Result<()> {
        login_failure::Entity::delete_many()
            .filter(login_failure::Column::Subject.eq(subject))
            .exec(&self.db)
            .await
            .db_context("failed to clear failed sign-ins")?;
        Ok(())
    }
}
