//! OpenID Connect Back-Channel Logout 1.0: a signed logout token to every client that got
//! tokens in the ended session and registered a `backchannel_logout_uri`, retried a bounded
//! number of times. The receivers are small axum servers on 127.0.0.1:0.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey::admin::clients::NewClient;
use serde_json::Value;

use crate::flow::{Browser, REDIRECT, exchange, sign_in_with_pkce, user};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// What a receiver got; it answers 500 to the first `fail` requests.
#[derive(Clone, Default)]
pub struct Receiver {
    pub tokens: Arc<Mutex<Vec<String>>>,
    pub fail: usize,
}

async fn receive(
    State(r): State<Receiver>,
    Form(form): Form<HashMap<String, String>>,
) -> StatusCode {
    let mut tokens = r.tokens.lock().unwrap();
    tokens.push(form.get("logout_token").cloned().unwrap_or_default());
    if tokens.len() <= r.fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// Starts a receiver and returns its URL.
pub async fn start_receiver(r: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/backchannel", axum::routing::post(receive))
        .with_state(r);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/backchannel")
}

pub async fn client_with(app: &TestApp, id: &str, backchannel: Option<String>) -> String {
    app.create_client(NewClient {
        id: id.into(),
        redirect_uris: vec![REDIRECT.into()],
        backchannel_logout_uri: backchannel,
        backchannel_logout_session_required: true,
        ..Default::default()
    })
    .await
    .expect("secret")
}

/// Waits (bounded) until the receiver has `n` requests.
pub async fn wait_for(tokens: &Arc<Mutex<Vec<String>>>, n: usize, within: Duration) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let got = tokens.lock().unwrap().clone();
        if got.len() >= n || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (bounded) for the one logout token that a queued ended session sends to `client`,
/// checks that it names the session of `id_claims`, and that the outbox is empty afterwards.
pub async fn assert_queued_logout_delivered(
    app: &TestApp,
    receiver: &Receiver,
    client: &str,
    id_claims: &Value,
) {
    let got = wait_for(&receiver.tokens, 1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "the server delivered the queued logout");
    let (header, claims) = app.verify_jwt(&got[0], client).await;
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    assert_eq!(claims["aud"], client);
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert_eq!(app.count_rows("logout_outbox").await, 0);
}

/// Signs alice in to `client` and returns the ID token's claims.
pub async fn sign_in_to(app: &TestApp, browser: &Browser, client: (&str, &str)) -> Value {
    let (q, verifier, _) = sign_in_with_pkce(app, browser, client.0, "alice").await;
    let tokens: Value = exchange(app, client, &q["code"], &verifier)
        .await
        .json()
        .await
        .unwrap();
    app.verify_jwt(tokens["id_token"].as_str().unwrap(), client.0)
        .await
        .1
}

async fn sign_out(app: &TestApp, browser: &Browser) {
    let confirm = browser.get(&app.url("/logout")).await;
    let csrf = confirm.input("csrf_token").unwrap();
    let done = browser
        .post(&app.url("/logout"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(done.status, 200);
}

#[tokio::test]
async fn clients_of_the_ended_session_receive_a_signed_logout_token() {
    // Arrange: "web" has a receiver, "plain" has none, "idle" has one but no tokens.
    let app = spawn_app().await;
    let web_rx = Receiver::default();
    let idle_rx = Receiver::default();
    let web = client_with(&app, "web", Some(start_receiver(web_rx.clone()).await)).await;
    let plain = client_with(&app, "plain", None).await;
    client_with(&app, "idle", Some(start_receiver(idle_rx.clone()).await)).await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let id_claims = sign_in_to(&app, &browser, ("web", &web)).await;
    sign_in_to(&app, &browser, ("plain", &plain)).await;
    let meta = app.openid_configuration().await;
    assert_eq!(meta["backchannel_logout_supported"], true);
    assert_eq!(meta["backchannel_logout_session_supported"], true);

    // Act: the person signs out at Latchkey (on another node, for good measure).
    let b = app.second_node().await;
    sign_out(&b, &browser).await;

    // Assert
    let got = wait_for(&web_rx.tokens, 1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "one delivery");
    let (header, claims) = app.verify_jwt(&got[0], "web").await;
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    assert_eq!(claims["aud"], "web");
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert!(claims.get("nonce").is_none());
    let exp = claims["exp"].as_i64().unwrap();
    let iat = claims["iat"].as_i64().unwrap();
    assert!(exp > iat && exp - iat <= 300);
    assert_eq!(
        claims["events"],
        serde_json::json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(idle_rx.tokens.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failing_receiver_is_retried_a_bounded_number_of_times() {
    let app = spawn_app().await;
    let flaky = Receiver {
        fail: 2,
        ..Default::default()
    };
    let down = Receiver {
        fail: usize::MAX,
        ..Default::default()
    };
    let a = client_with(&app, "flaky", Some(start_receiver(flaky.clone()).await)).await;
    let b = client_with(&app, "down", Some(start_receiver(down.clone()).await)).await;
    user(&app, "alice").await;
    let browser = Browser::new();
    sign_in_to(&app, &browser, ("flaky", &a)).await;
    sign_in_to(&app, &browser, ("down", &b)).await;

    sign_out(&app, &browser).await;

    // Two failures, then success: three requests, the same token each time.
    let got = wait_for(&flaky.tokens, 3, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|t| t == &got[0]));
    // Always failing: four attempts (1 s, 2 s, 4 s apart), then no more.
    let got = wait_for(&down.tokens, 4, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 4);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(down.tokens.lock().unwrap().len(), 4);
    assert_eq!(flaky.tokens.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn an_outbox_entry_queued_without_its_clients_reaches_the_clients_of_its_grants() {
    use sea_orm::ConnectionTrait;

    // Arrange: alice is signed in to "web"; her session is then ended the way a version that
    // did not record the clients in the outbox did (no `client_ids`).
    let app = spawn_app_with(|s| s.tokens.logout_outbox_interval = 1).await;
    let rx = Receiver::default();
    let web = client_with(&app, "web", Some(start_receiver(rx.clone()).await)).await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let id_claims = sign_in_to(&app, &browser, ("web", &web)).await;

    // Act
    let db = sea_orm::Database::connect(app.db_url()).await.unwrap();
    db.execute_unprepared(
        "INSERT INTO logout_outbox (session_id_hash, user_id, ended_at) \
         SELECT id_hash, user_id, 0 FROM sessions",
    )
    .await
    .unwrap();
    db.execute_unprepared("DELETE FROM sessions").await.unwrap();
    db.close().await.ok();

    // Assert: the server's pass over the outbox finds the clients through the grants.
    assert_queued_logout_delivered(&app, &rx, "web", &id_claims).await;
}
