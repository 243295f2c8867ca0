//! Malformed, oversized, duplicated or otherwise bad requests get RFC 6749 section 5.2 JSON
//! with the right status, never a panic or a 500.
use std::time::{Duration, Instant};

use crate::helpers::{TestApp, assert_oauth_error, spawn_app};

#[tokio::test]
async fn missing_grant_type_is_invalid_request() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let resp = app
        .post_form("/token", "scope=a", Some(("svc", &secret)))
        .await;
    assert_oauth_error(resp, 400, "invalid_request").await;
}

#[tokio::test]
async fn unknown_grant_type_is_unsupported_grant_type() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    for g in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let resp = app
            .post_form("/token", &format!("grant_type={g}"), Some(("svc", &secret)))
            .await;
        assert_oauth_error(resp, 400, "unsupported_grant_type").await;
    }
}

#[tokio::test]
async fn duplicated_parameters_are_invalid_request() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &["a"]).await;
    for body in [
        "grant_type=client_credentials&grant_type=client_credentials",
        "grant_type=client_credentials&scope=a&scope=a",
    ] {
        let resp = app.post_form("/token", body, Some(("svc", &secret))).await;
        assert_oauth_error(resp, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn oversized_body_and_parameters_are_invalid_request() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let huge = format!(
        "grant_type=client_credentials&scope={}",
        "a".repeat(200_000)
    );
    let resp = app.post_form("/token", &huge, Some(("svc", &secret))).await;
    assert_oauth_error(resp, 400, "invalid_request").await;
    let long = format!("grant_type=client_credentials&scope={}", "a".repeat(5000));
    let resp = app.post_form("/token", &long, Some(("svc", &secret))).await;
    assert_oauth_error(resp, 400, "invalid_request").await;
}

#[tokio::test]
async fn malformed_encoding_and_wrong_content_type_are_invalid_request() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    for body in [
        "grant_type=client_credentials&scope=%zz",
        "grant_type=%ff%fe",
    ] {
        let resp = app.post_form("/token", body, Some(("svc", &secret))).await;
        assert_oauth_error(resp, 400, "invalid_request").await;
    }
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth("svc", Some(&secret))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
}

#[tokio::test]
async fn two_authentication_methods_at_once_are_invalid_request() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let body = format!("grant_type=client_credentials&client_id=svc&client_secret={secret}");
    let resp = app.post_form("/token", &body, Some(("svc", &secret))).await;
    assert_oauth_error(resp, 400, "invalid_request").await;
}

#[tokio::test]
async fn malformed_basic_header_is_invalid_client_401() {
    let app = spawn_app().await;
    for header in ["Basic !!!notbase64", "Basic Zm9v", "Bearer abc", "Basic "] {
        let resp = app
            .http
            .post(app.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", header)
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        assert!(resp.headers().contains_key("www-authenticate"));
        assert_oauth_error(resp, 401, "invalid_client").await;
    }
}

#[tokio::test]
async fn get_on_token_endpoint_is_not_allowed_and_unknown_paths_404() {
    let app = spawn_app().await;
    let resp = app.http.get(app.url("/token")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    let resp = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let resp = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn request_headers_past_64_kib_are_refused_with_431_and_the_server_carries_on() {
    let app = spawn_app().await;
    let big = "a".repeat(70 * 1024);
    let resp = app
        .http
        .get(app.url("/jwks"))
        .header("x-padding", &big)
        .send()
        .await
        .expect("an answer, not a dropped connection");
    assert_eq!(resp.status(), 431);
    // A large cookie header, as browsers send, is still served.
    let resp = app
        .http
        .get(app.url("/jwks"))
        .header("cookie", format!("a={}", "b".repeat(16 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// HTTP/2 without TLS (prior knowledge), as a gateway may relay requests: the header list
/// has the same 64 KiB bound as an HTTP/1 head, not hyper's HTTP/2 default of 16 KiB.
#[tokio::test]
async fn http2_requests_have_the_same_64_kib_header_bound_as_http1() {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let app = spawn_app().await;
    let client: Client<_, axum::body::Body> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let get = |name: &'static str, value: String| {
        let req = axum::http::Request::get(app.url("/jwks"))
            .header(name, value)
            .body(axum::body::Body::empty())
            .unwrap();
        client.request(req)
    };
    // A 30 KiB cookie header: over HTTP/1 it is served, and so it is over HTTP/2.
    let resp = get("cookie", format!("a={}", "b".repeat(30 * 1024)))
        .await
        .expect("an HTTP/2 answer");
    assert_eq!(resp.version(), axum::http::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    // Past the bound it is refused with 431, as over HTTP/1.
    let past = get("x-padding", "a".repeat(70 * 1024))
        .await
        .expect("an HTTP/2 answer, not a reset connection");
    assert_eq!(past.status(), 431);
    // The connection's other requests go on.
    let resp = get("x-small", "1".into()).await.expect("an HTTP/2 answer");
    assert_eq!(resp.status(), 200);
}

/// Sends `bytes` on a new connection and reads until the server closes it; `None` when it
/// is still open after `wait`.
async fn send_raw(app: &TestApp, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(wait, stream.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    Some(buf)
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let app = spawn_app().await;
    // The server gives up on the headers after 10 s and closes the connection.
    let closed = send_raw(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
        Duration::from_secs(15),
    )
    .await;
    assert!(closed.is_some(), "the connection was still open after 15 s");
}

#[tokio::test]
async fn a_body_that_never_arrives_is_408_and_the_connection_closed_not_a_503() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let started = Instant::now();
    // The head and the first bytes of a 100-byte body; the rest never comes. The answer
    // comes after 10 s, well before the 30 s handler timeout, whose answer is 503.
    let answer = send_raw(
        &app,
        b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=cl",
        Duration::from_secs(20),
    )
    .await
    .expect("the connection was still open after 20 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408 "),
        "after {:?}: {answer}",
        started.elapsed()
    );
    assert!(answer.to_ascii_lowercase().contains("connection: close"));
    // The server carries on.
    let resp = app.client_credentials_request("svc", &secret, "").await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_form_past_64_kib_is_refused_after_64_kib_on_every_route() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    // Well past the bound, well under axum's own default of 2 MB: before, the pages read it
    // all and then refused it.
    let body = format!("username={}", "a".repeat(256 * 1024));
    for path in [
        "/login",
        "/authorize",
        "/consent",
        "/logout",
        "/login/passkey",
    ] {
        let resp = app.post_form(path, &body, None).await;
        assert_eq!(resp.status(), 413, "{path}");
    }
    let resp = app.post_form("/token", &body, Some(("svc", &secret))).await;
    assert_oauth_error(resp, 400, "invalid_request").await;
    // A form within the bound still reaches the page (the CSRF check refuses it there).
    let within = format!("username={}", "a".repeat(60 * 1024));
    let resp = app.post_form("/login", &within, None).await;
    let status = resp.status().as_u16();
    assert!(matches!(status, 400 | 403), "{status}");
}
