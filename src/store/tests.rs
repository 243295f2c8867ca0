//! Store behaviour against a real database: SQLite always, and PostgreSQL too when
//! `LATCHKEY_TEST_DATABASE_URL` names a server (a scratch schema is created and dropped).
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, TransactionTrait};
use secrecy::SecretString;

use super::entities::{authorization_code, grant_access_token, refresh_token, session};
use super::scratch::ScratchSchema;
use super::test_support::sqlite_store;
use super::{Store, unix_now};
use crate::admin::clients::{self, NewClient};
use crate::config::Settings;
use crate::crypto::MasterKey;
use crate::domain::ClientId;
use crate::oauth::model::{Session, User};
use crate::oauth::ports::{
    AccessTokenRevocations, AssertionReplayCache, ClientRepository, ConsentRepository,
    GrantRepository, LoginThrottle, SessionRepository, UserRepository,
};
use crate::oauth::throttle::FailureStats;

mod grants;
use grants::grant_with_tokens;

/// Runs `f` on a fresh SQLite store and, when configured, on a fresh PostgreSQL store.
pub(super) async fn on_each_backend<F, Fut>(f: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    f(sqlite_store(&dir).await).await;

    let Ok(admin_url) = std::env::var("LATCHKEY_TEST_DATABASE_URL") else {
        return;
    };
    if admin_url.is_empty() {
        return;
    }
    let schema = ScratchSchema::create(&admin_url)
        .await
        .expect("create a scratch schema");
    let settings = Settings {
        database_url: SecretString::from(schema.url.clone()),
        database_max_connections: 4,
        ..Settings::default()
    };
    let store = Store::connect(&settings, &MasterKey::from_bytes([9; 32]))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    // Run on its own task so that a failed assertion still lets the schema be dropped.
    let outcome = tokio::spawn(f(store.clone())).await;
    store.close().await.ok();
    schema.drop().await.expect("drop the scratch schema");
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

pub(super) async fn seed(store: &Store) -> (User, ClientId) {
    let created = clients::create(
        store,
        NewClient {
            id: "web".into(),
            redirect_uris: vec!["https://app.example.com/cb".into()],
            ..NewClient::default()
        },
    )
    .await
    .unwrap();
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        username: "alice".into(),
        password_hash: "$argon2id$placeholder".into(),
        email: None,
        email_verified: false,
        name: None,
    };
    store.insert_user(&user, 1).await.unwrap();
    (user, created.client.id)
}

#[tokio::test]
async fn migrations_are_idempotent_and_reversible() {
    on_each_backend(|store| async move {
        store.migrate().await.unwrap();
        // A few rounds: on SQLite, schema changes spread over a pool's connections once
        // failed here only now and then (see `Store::migrate`).
        for _ in 0..3 {
            // All the way down on one connection too, as `migrate` goes up.
            let txn = store.db.begin().await.unwrap();
            Migrator::down(&txn, None).await.unwrap();
            txn.commit().await.unwrap();
            store.migrate().await.unwrap();
            store.ping().await.unwrap();
            assert!(store.list_clients().await.unwrap().is_empty());
        }
    })
    .await;
}

#[tokio::test]
async fn servers_starting_together_on_one_sqlite_file_both_migrate_it() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        database_url: SecretString::from(format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("shared.db").display()
        )),
        ..Settings::default()
    };
    let key = MasterKey::from_bytes([9; 32]);
    let a = Store::connect(&settings, &key).await.unwrap();
    let b = Store::connect(&settings, &key).await.unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.unwrap();
    rb.unwrap();
    assert!(a.list_clients().await.unwrap().is_empty());
    assert!(b.list_clients().await.unwrap().is_empty());
}

#[tokio::test]
async fn failure_counts_of_both_subjects_come_back_in_order_within_the_window() {
    on_each_backend(|store| async move {
        let t = unix_now();
        let none = FailureStats::default();
        assert_eq!(
            store.failure_stats("pair", "all", t - 60).await.unwrap(),
            (none, none)
        );
        store
            .record_failure(&["pair", "all"], t - 100)
            .await
            .unwrap();
        store.record_failure(&["all"], t - 30).await.unwrap();
        store.record_failure(&["all"], t - 10).await.unwrap();
        store.record_failure(&["other"], t - 5).await.unwrap();
        let stats = |count, last| FailureStats {
            count,
            last_at: Some(last),
        };
        // The failure at t - 100 is outside the window; "other" is not counted.
        assert_eq!(
            store.failure_stats("pair", "all", t - 60).await.unwrap(),
            (none, stats(2, t - 10))
        );
        assert_eq!(
            store.failure_stats("all", "pair", t - 200).await.unwrap(),
            (stats(3, t - 10), stats(1, t - 100))
        );
        // The same subject twice (no distinct pair) counts once for each.
        assert_eq!(
            store.failure_stats("all", "all", t - 60).await.unwrap(),
            (stats(2, t - 10), stats(2, t - 10))
        );
    })
    .await;
}

#[tokio::test]
async fn an_assertion_id_is_accepted_once_until_it_expires() {
    on_each_backend(|store| async move {
        let c = ClientId::parse("svc").unwrap();
        let later = unix_now() + 300;
        assert!(store.record_assertion_jti(&c, "j1", later).await.unwrap());
        assert!(!store.record_assertion_jti(&c, "j1", later).await.unwrap());
        // Same jti from another client is a different assertion.
        let other = ClientId::parse("other").unwrap();
        assert!(
            store
                .record_assertion_jti(&other, "j1", later)
                .await
                .unwrap()
        );

        // A row whose assertion expired no longer blocks the id.
        assert!(
            store
                .record_assertion_jti(&c, "old", unix_now() - 10)
                .await
                .unwrap()
        );
        assert!(store.record_assertion_jti(&c, "old", later).await.unwrap());
        assert!(!store.record_assertion_jti(&c, "old", later).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn concurrent_replays_are_accepted_exactly_once() {
    on_each_backend(|store| async move {
        let c = ClientId::parse("svc").unwrap();
        let later = unix_now() + 300;
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let c = c.clone();
                tokio::spawn(async move { store.record_assertion_jti(&c, "race", later).await })
            })
            .collect();
        let mut accepted = 0;
        for t in tasks {
            if t.await.unwrap().unwrap() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 1);
    })
    .await;
}

/// Another node on the same database: the same pool, caches of its own.
fn another_node(store: &Store, client_ttl: std::time::Duration) -> Store {
    Store {
        db: store.db.clone(),
        hasher: store.hasher.clone(),
        client_cache: std::sync::Arc::new(super::caches::ClientCache::new(client_ttl)),
        revoked_ids: std::sync::Arc::new(super::caches::RevokedIds::new(
            std::time::Duration::from_secs(60),
        )),
    }
}

#[tokio::test]
async fn revocations_are_seen_at_once_here_and_after_the_next_reload_elsewhere() {
    on_each_backend(|a| async move {
        let b = another_node(&a, std::time::Duration::from_secs(60));
        let c = ClientId::parse("svc").unwrap();
        a.revoke_access_token("before", &c, unix_now() + 60)
            .await
            .unwrap();
        a.reload_revoked_ids().await.unwrap();
        b.reload_revoked_ids().await.unwrap();
        assert!(b.is_access_token_revoked("before").await.unwrap());

        a.revoke_access_token("t1", &c, unix_now() + 60)
            .await
            .unwrap();
        assert!(a.is_access_token_revoked("t1").await.unwrap());
        // Node B holds its set until its next reload (at most cache.revocation_refresh).
        assert!(!b.is_access_token_revoked("t1").await.unwrap());
        b.reload_revoked_ids().await.unwrap();
        assert!(b.is_access_token_revoked("t1").await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn cached_clients_are_dropped_on_change_here_and_expire_elsewhere() {
    on_each_backend(|a| async move {
        let (_, id) = seed(&a).await;
        let b = another_node(&a, std::time::Duration::from_millis(300));
        assert!(a.find_client(&id).await.unwrap().is_some());
        assert!(b.find_client(&id).await.unwrap().is_some());
        clients::delete(&a, id.as_str()).await.unwrap();
        assert!(a.find_client(&id).await.unwrap().is_none(), "changed here");
        assert!(
            b.find_client(&id).await.unwrap().is_some(),
            "node B may serve its copy until client_ttl"
        );
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert!(b.find_client(&id).await.unwrap().is_none(), "expired");
    })
    .await;
}

#[tokio::test]
async fn a_cached_client_past_half_its_bound_is_read_again_by_the_next_request() {
    on_each_backend(|a| async move {
        use std::time::{Duration, Instant};
        let (_, id) = seed(&a).await;
        let b = another_node(&a, Duration::from_secs(2));
        let cached = b.find_client(&id).await.unwrap().unwrap();
        clients::delete(&a, id.as_str()).await.unwrap();
        assert!(
            b.find_client(&id).await.unwrap().is_some(),
            "within half the bound: the cached record"
        );
        // Read 1.5 s ago: past half of the bound, within it.
        b.client_cache
            .put(&cached, Instant::now() - Duration::from_millis(1500));
        assert!(
            b.find_client(&id).await.unwrap().is_none(),
            "read again, and gone"
        );
        assert!(b.find_client(&id).await.unwrap().is_none(), "and forgotten");
    })
    .await;
}

#[tokio::test]
async fn revocation_is_idempotent() {
    on_each_backend(|store| async move {
        let c = ClientId::parse("svc").unwrap();
        assert!(!store.is_access_token_revoked("t1").await.unwrap());
        store
            .revoke_access_token("t1", &c, unix_now() + 60)
            .await
            .unwrap();
        store
            .revoke_access_token("t1", &c, unix_now() + 60)
            .await
            .unwrap();
        assert!(store.is_access_token_revoked("t1").await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn deleting_a_user_cascades_and_revokes_its_access_tokens() {
    on_each_backend(|store| async move {
        let (user, client) = seed(&store).await;
        grant_with_tokens(&store, &user, &client, "g1").await;
        let now = unix_now();
        store
            .create_session(&Session {
                id_hash: "s1".into(),
                user_id: user.id.clone(),
                auth_time: now,
                expires_at: now + 600,
                amr: vec![crate::oauth::authn::AuthMethod::Pwd],
                created_at: now,
                last_seen_at: now,
                device: None,
                source_ip: None,
            })
            .await
            .unwrap();
        store
            .save_consent(&user.id, client.as_str(), "openid", now)
            .await
            .unwrap();
        store
            .save_consent(&user.id, client.as_str(), "openid email", now)
            .await
            .unwrap();
        assert_eq!(
            store
                .find_consent(&user.id, client.as_str())
                .await
                .unwrap()
                .as_deref(),
            Some("openid email")
        );
        assert!(store.find_session("s1", now).await.unwrap().is_some());
        assert!(store.find_session("s1", now + 601).await.unwrap().is_none());

        assert!(store.delete_user("alice").await.unwrap());
        assert!(!store.delete_user("alice").await.unwrap());
        assert!(store.find_user_by_id(&user.id).await.unwrap().is_none());
        assert!(store.find_session("s1", now).await.unwrap().is_none());
        assert!(
            store
                .find_consent(&user.id, client.as_str())
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.find_grant("g1").await.unwrap().is_none());
        assert_eq!(session::Entity::find().count(&store.db).await.unwrap(), 0);
        assert_eq!(
            authorization_code::Entity::find()
                .count(&store.db)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            refresh_token::Entity::find()
                .count(&store.db)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            grant_access_token::Entity::find()
                .count(&store.db)
                .await
                .unwrap(),
            0
        );
        assert!(store.is_access_token_revoked("at-g1").await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn deleting_a_client_cascades_to_its_grants_and_consents() {
    on_each_backend(|store| async move {
        let (user, client) = seed(&store).await;
        grant_with_tokens(&store, &user, &client, "g1").await;
        store
            .save_consent(&user.id, client.as_str(), "openid", unix_now())
            .await
            .unwrap();

        assert!(store.delete_client(&client).await.unwrap());
        assert!(store.find_grant("g1").await.unwrap().is_none());
        assert!(
            store
                .find_consent(&user.id, client.as_str())
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.is_access_token_revoked("at-g1").await.unwrap());
        // The user stays.
        assert!(
            store
                .find_user_by_username("alice")
                .await
                .unwrap()
                .is_some()
        );
    })
    .await;
}

#[tokio::test]
async fn purge_removes_only_expired_rows() {
    on_each_backend(|store| async move {
        let c = ClientId::parse("svc").unwrap();
        let now = unix_now();
        store
            .revoke_access_token("old", &c, now - 10)
            .await
            .unwrap();
        store
            .revoke_access_token("new", &c, now + 600)
            .await
            .unwrap();
        store
            .record_assertion_jti(&c, "old", now - 10)
            .await
            .unwrap();
        // At most two: writes purge expired rows themselves now and then.
        let total = |d: crate::store::Deleted| d.iter().map(|(_, n)| n).sum::<u64>();
        assert!(total(store.purge_expired(now).await.unwrap().unwrap()) <= 2);
        assert_eq!(total(store.purge_expired(now).await.unwrap().unwrap()), 0);
        // The expired assertion id is gone, so the id is accepted again.
        assert!(
            store
                .record_assertion_jti(&c, "old", now + 60)
                .await
                .unwrap()
        );
        assert!(!store.is_access_token_revoked("old").await.unwrap());
        assert!(store.is_access_token_revoked("new").await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn duplicate_usernames_are_reported_as_duplicates() {
    on_each_backend(|store| async move {
        let (user, _) = seed(&store).await;
        let again = User {
            id: uuid::Uuid::new_v4().to_string(),
            ..user
        };
        assert!(matches!(
            store.insert_user(&again, 2).await,
            Err(super::StoreError::Duplicate)
        ));
    })
    .await;
}

#[tokio::test]
async fn in_memory_sqlite_keeps_one_database() {
    let settings = Settings {
        database_url: SecretString::from("sqlite::memory:"),
        ..Settings::default()
    };
    let store = Store::connect(&settings, &MasterKey::from_bytes([1; 32]))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    seed(&store).await;
    assert_eq!(store.list_clients().await.unwrap().len(), 1);
}

/// The bundled SQLite keeps its statements' plans (built with `SQLITE_ENABLE_QPSG`, see
/// `.cargo/config.toml`): without it every query with a bound `LIMIT` is parsed and planned
/// again at each run.
#[tokio::test]
async fn sqlite_is_built_with_the_query_planner_stability_guarantee() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let options = store
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA compile_options",
        ))
        .await
        .unwrap();
    let options: Vec<String> = options
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect();
    assert!(options.iter().any(|o| o == "ENABLE_QPSG"), "{options:?}");
}

/// Pooled PostgreSQL connections that the server dropped (a restart, a proxy's idle
/// timeout) are pinged and replaced before use once idle for `PING_IF_IDLE_FOR`, so no
/// request fails on them. SQLite has nothing to drop.
#[tokio::test]
async fn connections_the_server_dropped_are_replaced_before_use() {
    on_each_backend(|store| async move {
        if store.db.get_database_backend() != sea_orm::DbBackend::Postgres {
            return;
        }
        // Statements at once, so that the pool holds several connections.
        let burst = |store: Store| async move {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..4 {
                let store = store.clone();
                set.spawn(async move { store.list_clients().await.map(|c| c.len()) });
            }
            let mut answers = Vec::new();
            while let Some(answer) = set.join_next().await {
                answers.push(answer.unwrap());
            }
            answers
        };
        for answer in burst(store.clone()).await {
            answer.unwrap();
        }
        store
            .db
            .execute_unprepared(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = current_setting('application_name') \
                 AND pid <> pg_backend_pid()",
            )
            .await
            .unwrap();
        tokio::time::sleep(super::PING_IF_IDLE_FOR + std::time::Duration::from_millis(300)).await;
        for answer in burst(store.clone()).await {
            answer.unwrap();
        }
    })
    .await;
}
