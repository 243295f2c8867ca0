//! Faults: shutdown on SIGTERM that drains requests in flight, a database that goes away
//! and comes back, a node killed in the middle of a sign-in.
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::spawn_app;
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
