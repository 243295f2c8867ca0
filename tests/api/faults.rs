//! Faults: shutdown on SIGTERM that drains requests in flight, a database that goes away
//! and comes back, a node killed in the middle of a sign-in.
use std::time::{Duration, Instant};

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::flow::{Browser, PASSWORD, authorize_url, exchange, pkce, refresh, user, web_client};
use crate::helpers::{TestDb, spawn_app, spawn_app_on};
use crate::private_postgres::PrivatePostgres;
use crate::process::{ProcessNode, free_port};

#[tokio::test]
async fn sigterm_finishes_requests_in_flight_and_reports_not_ready() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let admin = format!("127.0.0.1:{}", free_port());
    let mut node = ProcessNode::start(
        app.db_url(),
        &app.master_key,
        None,
        &[("LATCHKEY_METRICS__LISTEN", &admin)],
    )
    .await;
    let http = reqwest::Client::new();

    // A token request whose body is still on its way when the signal arrives.
    let body = "grant_type=client_credentials";
    let (head, tail) = body.split_at(12);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("svc:{secret}"));
    let host = node.address.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&host).await.unwrap();
    conn.write_all(
        format!(
            "POST /token HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {basic}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{head}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    node.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Draining: not ready, and no new connections on the main listener.
    let ready = http
        .get(format!("http://{admin}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert!(
        http.get(format!("{}/healthz", node.address))
            .send()
            .await
            .is_err(),
        "the main listener still accepts connections"
    );

    // The request in flight still gets its token.
    conn.write_all(tail.as_bytes()).await.unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"access_token\""), "{response}");

    let status = node.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "exit status {status}");
}

/// What one request under load came to.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Unavailable,
}

async fn token_outcome(http: &reqwest::Client, url: &str, secret: &str) -> Outcome {
    let resp = http
        .post(url)
        .basic_auth("svc", Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("the server answers, database or not");
    match resp.status().as_u16() {
        200 => Outcome::Ok,
        503 => {
            let body: serde_json::Value = resp.json().await.expect("an error body");
            assert_eq!(body["error"], "temporarily_unavailable", "{body}");
            Outcome::Unavailable
        }
        other => panic!("unexpected status {other}: {}", resp.text().await.unwrap()),
    }
}

#[tokio::test]
async fn postgres_restart_under_load_fails_cleanly_then_recovers_within_5_s() {
    let Some(pg) = PrivatePostgres::start() else {
        return;
    };
    let master = latchkey::crypto::MasterKey::generate().to_base64();
    let app = spawn_app_on(TestDb::at(pg.url()), master, |_| {}).await;
    let secret = app.create_service_client("svc", &[]).await;
    let url = app.url("/token");
    assert_eq!(token_outcome(&app.http, &url, &secret).await, Outcome::Ok);

    // Four clients keep asking for tokens while the database goes away and comes back.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (http, url, secret, stop) =
            (app.http.clone(), url.clone(), secret.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seen.push(token_outcome(&http, &url, &secret).await);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    pg.stop_server();
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    // A client record read before the outage may serve for `cache.client_ttl` (1 s here);
    // after that every token request needs the database.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        token_outcome(&app.http, &url, &secret).await,
        Outcome::Unavailable
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.start_server();
    let back = Instant::now();
    loop {
        if token_outcome(&app.http, &url, &secret).await == Outcome::Ok {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "still failing 5 s after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("recovered {:?} after the database returned", back.elapsed());
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    // Every load task gets more requests in after the return: one that was waiting for a
    // connection during the outage ends in a 503 within the pool's acquire timeout (3 s).
    tokio::time::sleep(Duration::from_millis(3500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut unavailable = 0;
    for l in load {
        let seen = l.await.expect("no load task panicked");
        unavailable += seen.iter().filter(|o| **o == Outcome::Unavailable).count();
        assert_eq!(seen.last(), Some(&Outcome::Ok), "{seen:?}");
    }
    assert!(
        unavailable > 0,
        "no request failed while the database was away"
    );
}

#[tokio::test]
async fn a_node_killed_mid_flow_is_replaced_and_nothing_is_lost() {
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    user(&app, "alice").await;
    let start = || ProcessNode::start(app.db_url(), &app.master_key, Some(&app.address), &[]);

    // Login on a node that dies right after: the session survives it.
    let mut first = start().await;
    let n1 = app.through(&first.address);
    let browser = Browser::new();
    let (verifier, challenge) = pkce();
    let login = browser
        .get(&authorize_url(&n1, "web", &challenge, ""))
        .await;
    let consent = browser.login(&n1, &login, "alice", PASSWORD).await;
    first.signal("KILL");
    first.wait_exit(Duration::from_secs(5)).await;

    // The consent goes to its replacement, which issues the code and dies too.
    let mut second = start().await;
    let n2 = app.through(&second.address);
    let back = browser.consent(&n2, &consent, "allow").await;
    let code = back.callback()["code"].clone();
    second.signal("KILL");
    second.wait_exit(Duration::from_secs(5)).await;

    // A third node exchanges the code, refreshes, and knows the consent and the session.
    let third = start().await;
    let n3 = app.through(&third.address);
    let resp = exchange(&n3, ("web", &secret), &code, &verifier).await;
    assert_eq!(resp.status(), 200);
    let tokens: serde_json::Value = resp.json().await.unwrap();
    let refreshed = refresh(
        &n3,
        ("web", &secret),
        tokens["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    let (_, challenge) = pkce();
    let silent = browser
        .get(&authorize_url(&n3, "web", &challenge, "&prompt=none"))
        .await;
    assert!(silent.callback().contains_key("code"), "{silent:?}");
}
