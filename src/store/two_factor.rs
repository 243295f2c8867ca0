//! Authenticators and recovery codes: the `TwoFactorRepository` port. Single use is the
//! database's job: a step or a recovery code is accepted by a conditional UPDATE, which on
//! PostgreSQL takes the row lock, so two nodes given the same code cannot both accept it.
use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, TransactionTrait,
};

use super::DbResultExt;
use super::Store;
use super::entities::{recovery_code, totp_authenticator as totp};
use crate::oauth::ports::TwoFactorRepository;
use crate::oauth::two_factor::Authenticator;

#[async_trait]
impl TwoFactorRepository for Store {
    async fn find_authenticator(&self, user_id: &str) -> anyhow::Result<Option<Authenticator>> {
        let row = totp::Entity::find_by_id(user_id.to_owned())
            .one(&self.db)
            .await
            .db_context("failed to look up an authenticator")?;
        Ok(row.map(|m| Authenticator {
            user_id: m.user_id,
            secret_sealed: m.secret_sealed,
            confirmed_at: m.confirmed_at,
            last_used_step: m.last_used_step,
            created_at: m.created_at,
        }))
    }

    async fn begin_authenticator(
        &self,
        user_id: &str,
        secret_sealed: &str,
        now: i64,
    ) -> anyhow::Result<bool> {
        let row = totp::ActiveModel {
            user_id: Set(user_id.to_owned()),
            secret_sealed: Set(secret_sealed.to_owned()),
            confirmed_at: Set(None),
            last_used_step: Set(None),
            created_at: Set(now),
        };
        // An unconfirmed row is replaced; a confirmed one is left alone (0 rows).
        let on_conflict = OnConflict::column(totp::Column::UserId)
            .update_columns([
                totp::Column::SecretSealed,
                totp::Column::LastUsedStep,
                totp::Column::CreatedAt,
            ])
            .action_and_where(Expr::col((totp::Entity, totp::Column::ConfirmedAt)).is_null())
            .to_owned();
        let res = totp::Entity::insert(row)
            .on_conflict(on_conflict)
            .exec_without_returning(&self.db)
            .await
            .db_context("failed to store a new authenticator")?;
        Ok(res > 0)
    }

    async fn confirm_authenticator(
        &self,
        user_id: &str,
        secret_sealed: &str,
        step: i64,
        recovery_hashes: &[String],
        now: i64,
    ) -> anyhow::Result<bool> {
        let txn = self
            .db
            .begin()
            .await
            .db_context("failed to begin confirming an authenticator")?;
        let res = totp::Entity::update_many()
            .col_expr(totp::Column::ConfirmedAt, Expr::value(now))
            .col_expr(totp::Column::LastUsedStep, Expr::value(step))
            .filter(totp::Column::UserId.eq(user_id))
            .filter(totp::Column::SecretSealed.eq(secret_sealed))
            .filter(totp::Column::ConfirmedAt.is_null())
            .exec(&txn)
            .await
            .db_context("failed to confirm an authenticator")?;
        if res.rows_affected == 0 {
            return Ok(false);
        }
        replace_codes(&txn, user_id, recovery_hashes, now).await?;
        txn.commit()
            .await
            .db_context("failed to commit confirming an authenticator")?;
        Ok(true)
    }

    async fn record_authenticator_step(&self, user_id: &str, step: i64) -> anyhow::Result<bool> {
        let res = totp::Entity::update_many()
            .col_expr(totp::Column::LastUsedStep, Expr::value(step))
            .filter(totp::Column::UserId.eq(user_id))
            .filter(totp::Column::ConfirmedAt.is_not_null())
            .filter(
                Condition::any()
                    .add(totp::Column::LastUsedStep.is_null())
                    .add(totp::Column::LastUsedStep.lt(step)),
            )
            .exec(&self.db)
            .await
            .db_context("failed to record an authenticator code as used")?;
        Ok(res.rows_affected == 1)
    }

    async fn remove_authenticator(&self, user_id: &str) -> anyhow::Result<bool> {
        let txn = self
            .db
            .begin()
            .await
            .db_context("failed to begin removing an authenticator")?;
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::UserId.eq(user_id))
            .exec(&txn)
            .await
            .db_context("failed to delete recovery codes")?;
        let res = totp::Entity::delete_by_id(user_id.to_owned())
            .exec(&txn)
            .await
            .db_context("failed to delete an authenticator")?;
        txn.commit()
            .await
            .db_context("failed to commit removing an authenticator")?;
        Ok(res.rows_affected > 0)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[String],
        now: i64,
    ) -> anyhow::Result<()> {
        let txn = self
            .db
            .begin()
            .await
            .db_context("failed to begin replacing recovery codes")?;
        replace_codes(&txn, user_id, hashes, now).await?;
        txn.commit()
            .await
            .db_context("failed to commit new recovery codes")
    }

    async fn use_recovery_code(&self, user_id: &str, hash: &str, now: i64) -> anyhow::Result<bool> {
        let res = recovery_code::Entity::update_many()
            .col_expr(recovery_code::Column::UsedAt, Expr::value(now))
            .filter(recovery_code::Column::CodeHash.eq(hash))
            .filter(recovery_code::Column::UserId.eq(user_id))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(&self.db)
            .await
            .db_context("failed to use a recovery code")?;
        Ok(res.rows_affected == 1)
    }

    async fn unused_recovery_codes(&self, user_id: &str) -> anyhow::Result<u64> {
        recovery_code::Entity::find()
            .filter(recovery_code::Column::UserId.eq(user_id))
            .filter(recovery_code::Column::UsedAt.is_null())
            .count(&self.db)
            .await
            .db_context("failed to count recovery codes")
    }
}

/// Deletes the person's recovery codes and inserts `hashes`, inside the caller's transaction.
async fn replace_codes<C: ConnectionTrait>(
    conn: &C,
    user_id: &str,
    hashes: &[String],
    now: i64,
) -> anyhow::Result<()> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(conn)
        .await
        .db_context("failed to delete old recovery codes")?;
    if hashes.is_empty() {
        return Ok(());
    }
    let rows = hashes.iter().map(|h| recovery_code::ActiveModel {
        code_hash: Set(h.clone()),
        user_id: Set(user_id.to_owned()),
        created_at: Set(now),
        used_at: Set(None),
    });
    recovery_code::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await
        .db_context("failed to store recovery codes")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{on_each_backend, seed};
    use crate::oauth::ports::{TwoFactorRepository, UserRepository};

    #[tokio::test]
    async fn an_authenticator_is_confirmed_once_and_then_kept() {
        on_each_backend(|store| async move {
            let (user, _) = seed(&store).await;
            assert!(
                store
                    .begin_authenticator(&user.id, "sealed-1", 10)
                    .await
                    .unwrap()
            );
            // An unconfirmed one is replaced.
            assert!(
                store
                    .begin_authenticator(&user.id, "sealed-2", 11)
                    .await
                    .unwrap()
            );
            let a = store.find_authenticator(&user.id).await.unwrap().unwrap();
            assert_eq!(
                (a.secret_sealed.as_str(), a.confirmed_at),
                ("sealed-2", None)
            );
            // Steps are not recorded before confirmation.
            assert!(!store.record_authenticator_step(&user.id, 5).await.unwrap());
            // Confirming the replaced secret fails; the current one succeeds once.
            let codes = vec!["h1".to_owned(), "h2".to_owned()];
            assert!(
                !store
                    .confirm_authenticator(&user.id, "sealed-1", 5, &codes, 12)
                    .await
                    .unwrap()
            );
            assert!(
                store
                    .confirm_authenticator(&user.id, "sealed-2", 5, &codes, 12)
                    .await
                    .unwrap()
            );
            assert!(
                !store
                    .confirm_authenticator(&user.id, "sealed-2", 6, &codes, 13)
                    .await
                    .unwrap()
            );
            assert_eq!(store.unused_recovery_codes(&user.id).await.unwrap(), 2);
            // A confirmed one is not replaced by a new enrolment.
            assert!(
                !store
                    .begin_authenticator(&user.id, "sealed-3", 14)
                    .await
                    .unwrap()
            );
            let a = store.find_authenticator(&user.id).await.unwrap().unwrap();
            assert_eq!(
                (a.secret_sealed.as_str(), a.confirmed_at, a.last_used_step),
                ("sealed-2", Some(12), Some(5))
            );
        })
        .await;
    }

    #[tokio::test]
    async fn each_step_is_accepted_once_and_never_an_earlier_one() {
        on_each_backend(|store| async move {
            let (user, _) = seed(&store).await;
            store.begin_authenticator(&user.id, "s", 1).await.unwrap();
            store
                .confirm_authenticator(&user.id, "s", 100, &[], 1)
                .await
                .unwrap();
            assert!(
                !store
                    .record_authenticator_step(&user.id, 100)
                    .await
                    .unwrap(),
                "replay"
            );
            assert!(
                !store.record_authenticator_step(&user.id, 99).await.unwrap(),
                "older"
            );
            assert!(
                store
                    .record_authenticator_step(&user.id, 101)
                    .await
                    .unwrap()
            );
            // Two nodes given the same new code at once: exactly one accepts it.
            let (a, b) = tokio::join!(
                store.record_authenticator_step(&user.id, 102),
                store.record_authenticator_step(&user.id, 102)
            );
            assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|x| **x).count(), 1);
        })
        .await;
    }

    #[tokio::test]
    async fn recovery_codes_are_used_once_and_replaced_together() {
        on_each_backend(|store| async move {
            let (user, _) = seed(&store).await;
            store.begin_authenticator(&user.id, "s", 1).await.unwrap();
            let first = vec!["a".to_owned(), "b".to_owned()];
            store
                .confirm_authenticator(&user.id, "s", 1, &first, 1)
                .await
                .unwrap();
            assert!(store.use_recovery_code(&user.id, "a", 2).await.unwrap());
            assert!(
                !store.use_recovery_code(&user.id, "a", 3).await.unwrap(),
                "used"
            );
            assert!(
                !store
                    .use_recovery_code("someone-else", "b", 3)
                    .await
                    .unwrap()
            );
            assert_eq!(store.unused_recovery_codes(&user.id).await.unwrap(), 1);
            store
                .replace_recovery_codes(
                    &user.id,
                    &["c".to_owned(), "d".to_owned(), "e".to_owned()],
                    4,
                )
                .await
                .unwrap();
            assert!(
                !store.use_recovery_code(&user.id, "b", 5).await.unwrap(),
                "old codes are gone"
            );
            assert_eq!(store.unused_recovery_codes(&user.id).await.unwrap(), 3);
            // Removing the authenticator removes the codes; deleting the user the rest.
            assert!(store.remove_authenticator(&user.id).await.unwrap());
            assert!(store.find_authenticator(&user.id).await.unwrap().is_none());
            assert_eq!(store.unused_recovery_codes(&user.id).await.unwrap(), 0);
            store.begin_authenticator(&user.id, "s2", 6).await.unwrap();
            store
                .confirm_authenticator(&user.id, "s2", 1, &first, 6)
                .await
                .unwrap();
            assert!(store.delete_user(&user.username).await.unwrap());
            assert!(store.find_user_by_id(&user.id).await.unwrap().is_none());
            assert!(store.find_authenticator(&user.id).await.unwrap().is_none());
            assert_eq!(store.unused_recovery_codes(&user.id).await.unwrap(), 0);
        })
        .await;
    }

    #[tokio::test]
    async fn a_sign_in_lookup_says_whether_the_user_has_a_confirmed_authenticator() {
        on_each_backend(|store| async move {
            let (user, _) = seed(&store).await;
            let has = |store: &crate::store::Store| {
                let store = store.clone();
                async move {
                    let found = store.find_user_for_sign_in("alice").await.unwrap().unwrap();
                    found.has_authenticator
                }
            };
            assert!(!has(&store).await, "no authenticator");
            store.begin_authenticator(&user.id, "s", 1).await.unwrap();
            assert!(!has(&store).await, "an unconfirmed one does not count");
            store
                .confirm_authenticator(&user.id, "s", 1, &[], 2)
                .await
                .unwrap();
            assert!(has(&store).await, "a confirmed one");
            let found = store.find_user_for_sign_in("alice").await.unwrap().unwrap();
            assert_eq!(found.user.id, user.id);
            assert_eq!(found.user.password_hash, user.password_hash);
            assert!(store.find_user_for_sign_in("bob").await.unwrap().is_none());
            store.remove_authenticator(&user.id).await.unwrap();
            assert!(!has(&store).await, "removed");
        })
        .await;
    }
}
