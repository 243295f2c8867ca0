//! Failed authentication attempts (sign-ins and client authentication): the `LoginThrottle`
//! port.
use async_trait::async_trait;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::DbResultExt;
use super::Store;
use super::entities::login_failure;
use crate::crypto::random_token;
use crate::oauth::ports::LoginThrottle;
use crate::oauth::throttle::FailureStats;

#[async_trait]
impl LoginThrottle for Store {
    async fn failure_stats(
        &self,
        pair: &str,
        all: &str,
        since: i64,
    ) -> anyhow::Result<(FailureStats, FailureStats)> {
        // One row per subject that has failures in the window (none for a clean one).
        let rows: Vec<(String, i64, Option<i64>)> = login_failure::Entity::find()
            .select_only()
            .column(login_failure::Column::Subject)
            .column_as(login_failure::Column::Id.count(), "n")
            .column_as(login_failure::Column::At.max(), "last")
            .filter(login_failure::Column::Subject.is_in([pair, all]))
            .filter(login_failure::Column::At.gte(since))
            .group_by(login_failure::Column::Subject)
            .into_tuple()
            .all(&self.db)
            .await
            .db_context("failed to count failed attempts")?;
        let stats = |subject: &str| {
            rows.iter().find(|(s, _, _)| s == subject).map_or(
                FailureStats::default(),
                |(_, n, last_at)| FailureStats {
                    count: (*n).max(0) as u64,
                    last_at: *last_at,
                },
            )
        };
        Ok((stats(pair), stats(all)))
    }

    async fn record_failure(&self, subjects: &[&str], at: i64) -> anyhow::Result<()> {
        if subjects.is_empty() {
            return Ok(());
        }
        let rows = subjects.iter().map(|subject| login_failure::ActiveModel {
            id: Set(random_token()),
            subject: Set((*subject).to_owned()),
            at: Set(at),
        });
        login_failure::Entity::insert_many(rows)
            .exec_without_returning(&self.db)
            .await
            .db_context("failed to record a failed attempt")?;
        Ok(())
    }

    async fn clear_failures(&self, subject: &str) -> anyhow::Result<()> {
        login_failure::Entity::delete_many()
            .filter(login_failure::Column::Subject.eq(subject))
            .exec(&self.db)
            .await
            .db_context("failed to clear failed attempts")?;
        Ok(())
    }
}
