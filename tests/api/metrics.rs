//! GET /metrics: Prometheus text after real traffic, by route template and status; only
//! for allowed addresses on the main listener, or on its own listener.
use crate::flow::{Browser, authorize_url, pkce, user, web_client};
use crate::helpers::{spawn_app, spawn_app_with};
use crate::process::{ProcessNode, free_port};

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_count_requests_tokens_sign_ins_keys_and_the_pool() {
    let app = spawn_app().await;
    let svc = app.create_service_client("svc", &[]).await;
    for _ in 0..3 {
        app.client_credentials_token("svc", &svc, "").await;
    }
    let bad = app
        .post_form(
            "/token",
            "grant_type=client_credentials",
            Some(("svc", "wrong")),
        )
        .await;
    assert_eq!(bad.status(), 401);
    app.http
        .get(app.url("/static/no-such-file.css"))
        .send()
        .await
        .unwrap();
    app.http
        .get(app.url("/some/random/path"))
        .send()
        .await
        .unwrap();
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let (_, challenge) = pkce();
    let page = browser
        .get(&authorize_url(&app, "web", &challenge, ""))
        .await;
    browser.login(&app, &page, "alice", "wrong password").await;

    let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = resp.text().await.unwrap();
    let requests = "latchkey_http_requests_total";
    assert_eq!(
        value(
            &text,
            &format!(r#"{requests}{{method="POST",route="/token",status="200"}}"#)
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            &format!(r#"{requests}{{method="POST",route="/token",status="401"}}"#)
        ),
        1.0
    );
    // Route templates, never raw paths.
    assert!(text.contains(r#"route="/static/{file}""#), "{text}");
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(!text.contains("no-such-file") && !text.contains("/some/random/path"));
    assert_eq!(
        value(
            &text,
            r#"latchkey_http_request_duration_seconds_count{method="POST",route="/token"}"#
        ),
        4.0
    );
    assert_eq!(
        value(
            &text,
            r#"latchkey_tokens_issued_total{grant_type="client_credentials"}"#
        ),
        3.0
    );
    assert_eq!(
        value(&text, r#"latchkey_logins_total{result="failed"}"#),
        1.0
    );
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert_eq!(
            value(
                &text,
                &format!(r#"latchkey_signing_keys{{alg="{alg}",state="active"}}"#)
            ),
            1.0
        );
    }
    assert!(value(&text, r#"latchkey_db_pool_connections{state="open"}"#) >= 1.0);
    // The test settings ask for 5; a SQLite pool opens at most 4 (one writer at a time).
    let max = if app.db_url().starts_with("sqlite") {
        4.0
    } else {
        5.0
    };
    assert_eq!(
        value(&text, r#"latchkey_db_pool_connections{state="max"}"#),
        max
    );
}

#[tokio::test]
async fn metrics_are_not_shown_to_addresses_outside_the_allow_list() {
    let app = spawn_app_with(|s| s.metrics.allow = vec!["10.0.0.0/8".parse().unwrap()]).await;
    let resp = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn metrics_listen_serves_metrics_on_their_own_port_only() {
    let app = spawn_app().await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let node = ProcessNode::start(
        app.db_url(),
        &app.master_key,
        None,
        &[("LATCHKEY_METRICS__LISTEN", &listen)],
    )
    .await;
    let http = reqwest::Client::new();
    let main = http
        .get(format!("{}/metrics", node.address))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), 404);
    let admin = http
        .get(format!("http://{listen}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 200);
    let text = admin.text().await.unwrap();
    assert!(text.contains("latchkey_signing_keys"), "{text}");
    let ready = http
        .get(format!("http://{listen}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}
