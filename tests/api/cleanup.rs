//! Storage that cleans itself: 100,000 expired tokens, codes and refresh families are
//! deleted by the background task in bounded batches, live rows stay, and the counts reach
//! /metrics.
use std::time::{Duration, Instant};

use latchkey::store::scratch::ScratchSchema;
use sea_orm::{ConnectionTrait, Database, TransactionTrait};

use crate::flow::{user, web_client};
use crate::helpers::{count_rows_on, spawn_app_with};

const PER_TABLE: usize = 20_000;

/// Multi-row INSERTs of 1,000 rows, `row(i)` giving one parenthesised tuple.
async fn seed(db: &impl ConnectionTrait, table: &str, cols: &str, row: impl Fn(usize) -> String) {
    for start in (0..PER_TABLE).step_by(1000) {
        let values: Vec<String> = (start..start + 1000).map(&row).collect();
        db.execute_unprepared(&format!(
            "INSERT INTO {table} ({cols}) VALUES {}",
            values.join(",")
        ))
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn expired_records_are_deleted_in_batches_and_counted() {
    let app = spawn_app_with(|s| s.tokens.purge_interval = 1).await;
    web_client(&app, "web").await;
    let uid = user(&app, "alice").await;
    let db = Database::connect(app.db_url()).await.unwrap();
    let now = latchkey::oauth::now();
    let old = now - 3 * 24 * 3600;
    let started = Instant::now();
    // One transaction, so the cleanup never sees a grant before the rows under it.
    let txn = db.begin().await.unwrap();
    seed(
        &txn,
        "grants",
        "id, client_id, user_id, scope, auth_time, created_at",
        |i| format!("('g{i}', 'web', '{uid}', 'openid', {old}, {old})"),
    )
    .await;
    seed(
        &txn,
        "authorization_codes",
        "code_hash, grant_id, client_id, user_id, redirect_uri, scope, auth_time, created_at, expires_at",
        |i| format!("('c{i}', 'g{i}', 'web', '{uid}', 'https://app/cb', 'openid', {old}, {old}, {})", old + 60),
    )
    .await;
    seed(
        &txn,
        "grant_access_tokens",
        "jti, grant_id, expires_at",
        |i| format!("('a{i}', 'g{i}', {})", old + 3600),
    )
    .await;
    seed(
        &txn,
        "refresh_tokens",
        "token_hash, grant_id, client_id, user_id, scope, auth_time, created_at, expires_at",
        |i| {
            format!(
                "('r{i}', 'g{i}', 'web', '{uid}', 'openid', {old}, {old}, {})",
                now - 5
            )
        },
    )
    .await;
    seed(&txn, "revoked_tokens", "jti, client_id, expires_at", |i| {
        format!("('j{i}', 'web', {})", now - 5)
    })
    .await;
    txn.commit().await.unwrap();
    println!("seeded {} rows in {:?}", 5 * PER_TABLE, started.elapsed());
    // Live rows, which must stay.
    db.execute_unprepared(&format!(
        "INSERT INTO grants (id, client_id, user_id, scope, auth_time, created_at) VALUES ('live', 'web', '{uid}', 'openid', {now}, {now});
         INSERT INTO refresh_tokens (token_hash, grant_id, client_id, user_id, scope, auth_time, created_at, expires_at) VALUES ('live', 'live', 'web', '{uid}', 'openid', {now}, {now}, {});
         INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES ('live', 'web', {})",
        now + 3600,
        now + 3600
    ))
    .await
    .unwrap();

    let tables = [
        "grants",
        "authorization_codes",
        "grant_access_tokens",
        "refresh_tokens",
        "revoked_tokens",
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut left = 0;
        for t in tables {
            left += count_rows_on(&db, t).await;
        }
        if left == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} rows left after 60 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!("cleaned up in {:?}", started.elapsed());
    assert_eq!(count_rows_on(&db, "grants").await, 1);
    assert_eq!(count_rows_on(&db, "refresh_tokens").await, 1);
    assert_eq!(count_rows_on(&db, "revoked_tokens").await, 1);

    // The counts are recorded when the pass returns, just after its last DELETE commits:
    // the rows can be seen gone a moment before the metrics show them.
    let series: Vec<String> = tables
        .iter()
        .map(|t| format!(r#"latchkey_cleanup_deleted_rows_total{{table="{t}"}} {PER_TABLE}"#))
        .collect();
    loop {
        let text = app
            .http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let missing: Vec<&String> = series.iter().filter(|s| !text.contains(*s)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no {missing:?} after 60 s in\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.close().await.ok();
}

#[tokio::test]
async fn a_cleanup_run_is_skipped_while_another_node_holds_the_lock() {
    let app = spawn_app_with(|s| s.tokens.purge_interval = 3600).await;
    if !app.db_url().starts_with("postgres") {
        println!("skipped: the cleanup lock is a PostgreSQL advisory lock (SQLite is one node)");
        return;
    }
    let other = Database::connect(app.db_url()).await.unwrap();
    let now = latchkey::oauth::now();
    // Another node's cleanup: the same advisory lock, held by an open transaction.
    let hold = "SELECT pg_advisory_xact_lock(hashtextextended(current_schema(), 83981448211566))";
    let txn = other.begin().await.unwrap();
    txn.execute_unprepared(hold).await.unwrap();
    assert!(app.store.purge_expired(now).await.unwrap().is_none());
    txn.commit().await.unwrap();
    assert!(app.store.purge_expired(now).await.unwrap().is_some());
    other.close().await.ok();

    // Another deployment in the same database (another schema) holding its own cleanup
    // lock does not stop this one's.
    let admin_url = std::env::var("LATCHKEY_TEST_DATABASE_URL").unwrap();
    let elsewhere = ScratchSchema::create(&admin_url).await.unwrap();
    let other = Database::connect(&elsewhere.url).await.unwrap();
    let txn = other.begin().await.unwrap();
    txn.execute_unprepared(hold).await.unwrap();
    let ran = app.store.purge_expired(now).await.unwrap();
    txn.commit().await.unwrap();
    other.close().await.ok();
    elsewhere.drop().await.unwrap();
    assert!(
        ran.is_some(),
        "a lock of another schema stopped the cleanup"
    );
}
