//! The exact requests Traefik and Envoy send, since their binaries cannot run here (nginx is
//! run for real in `nginx.rs`).
//! - Traefik `ForwardAuth` (doc.traefik.io, middlewares/http/forwardauth, "Forward-Request
//!   Headers"): a GET to `address` with `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri` and
//!   `-For` describing the original request, plus the `authRequestHeaders`.
//! - Envoy `ext_authz`, HTTP service (envoyproxy.io, ext_authz.proto `HttpService` and
//!   `AuthorizationRequest`): the original method, `path_prefix` + the original path and
//!   query, the original `Host`, `Content-Length: 0`, the `allowed_headers` (here
//!   `authorization`, `cookie`, `x-forwarded-proto`) and Envoy's own `x-envoy-*` and
//!   `x-request-id` headers.
use latchkey::config::{SessionPolicy, Settings};
use reqwest::Method;

use super::{gateway_app, header, rule, token};
use crate::helpers::TestApp;

const SIGN_IN: &str = "https://login.example.com/start";

fn configure(s: &mut Settings) {
    let mut portal = rule(Some("app.example.com"), "/", &[]);
    portal.session = SessionPolicy::Redirect;
    s.forward_auth.rules = vec![
        rule(Some("api.example.com"), "/orders", &["read"]),
        rule(Some("api.example.com"), "/orders/admin", &["write"]),
        portal,
    ];
    s.forward_auth.sign_in_url = Some(SIGN_IN.parse().unwrap());
    s.forward_auth.allowed_redirect_domains = vec!["app.example.com".into()];
}

/// Traefik's request for an original `method` `https://host{uri}` from 203.0.113.7.
async fn traefik(
    app: &TestApp,
    method: &str,
    host: &str,
    uri: &str,
    bearer: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .get(app.url("/forward-auth"))
        .header("x-forwarded-method", method)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", host)
        .header("x-forwarded-uri", uri)
        .header("x-forwarded-for", "203.0.113.7");
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// Envoy's check request for an original `method` `https://host{path}`.
async fn envoy(
    app: &TestApp,
    method: Method,
    host: &str,
    path: &str,
    bearer: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .request(method, app.url(&format!("/forward-auth{path}")))
        .header("host", host)
        .header("content-length", "0")
        .header("x-forwarded-proto", "https")
        .header("x-request-id", "2cbd2bad-8298-4e75-af98-c9301b7ba061")
        .header("x-envoy-expected-rq-timeout-ms", "500")
        .header("x-envoy-internal", "true");
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn traefik_forward_auth_requests_are_judged_by_the_forwarded_request() {
    // Arrange
    let (app, secret) = gateway_app(configure).await;
    let read = token(&app, &secret, "read").await;

    // Act
    let allowed = traefik(
        &app,
        "DELETE",
        "api.example.com",
        "/orders/42?x=1",
        Some(&read),
    )
    .await;
    let admin = traefik(
        &app,
        "GET",
        "api.example.com",
        "/orders/admin/../admin/x",
        Some(&read),
    )
    .await;
    let anonymous = traefik(&app, "GET", "api.example.com", "/orders/42", None).await;
    let browser_get = traefik(&app, "GET", "app.example.com", "/dashboard?tab=1", None).await;
    let browser_post = traefik(&app, "POST", "app.example.com", "/dashboard", None).await;

    // Assert
    assert_eq!(allowed.status(), 200);
    assert_eq!(header(&allowed, "x-auth-client-id"), "svc");
    assert_eq!(header(&allowed, "x-auth-scopes"), "read");
    assert_eq!(header(&allowed, "x-auth-method"), "token");
    assert_eq!(admin.status(), 403);
    assert!(header(&admin, "www-authenticate").contains("scope=\"write\""));
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        header(&anonymous, "www-authenticate"),
        "Bearer realm=\"latchkey\""
    );
    // Traefik passes the 302 to the browser; the original URL is rebuilt from the headers.
    assert_eq!(browser_get.status(), 302);
    assert_eq!(
        header(&browser_get, "location"),
        format!("{SIGN_IN}?rd=https%3A%2F%2Fapp.example.com%2Fdashboard%3Ftab%3D1")
    );
    // A POST cannot be replayed after signing in (the browser returns with a GET): 401.
    assert_eq!(browser_post.status(), 401);
    assert_eq!(header(&browser_post, "location"), "");
}

#[tokio::test]
async fn envoy_ext_authz_requests_are_judged_by_method_host_and_appended_path() {
    // Arrange
    let (app, secret) = gateway_app(configure).await;
    let read = token(&app, &secret, "read").await;
    let write = token(&app, &secret, "read write").await;

    // Act
    let allowed = envoy(
        &app,
        Method::DELETE,
        "api.example.com",
        "/orders/42?x=1",
        Some(&read),
    )
    .await;
    let admin_read = envoy(
        &app,
        Method::PATCH,
        "api.example.com",
        "/orders/%61dmin/1",
        Some(&read),
    )
    .await;
    let admin_write = envoy(
        &app,
        Method::PATCH,
        "api.example.com",
        "/orders/admin/1",
        Some(&write),
    )
    .await;
    let other_host = envoy(
        &app,
        Method::GET,
        "app.example.com",
        "/orders/admin/1",
        Some(&read),
    )
    .await;
    let browser_get = envoy(&app, Method::GET, "app.example.com", "/dashboard", None).await;
    let browser_head = envoy(&app, Method::HEAD, "app.example.com", "/dashboard", None).await;
    let browser_put = envoy(&app, Method::PUT, "app.example.com", "/dashboard", None).await;

    // Assert
    assert_eq!(allowed.status(), 200);
    assert_eq!(header(&allowed, "x-auth-scopes"), "read");
    assert_eq!(admin_read.status(), 403, "%61dmin is admin");
    assert_eq!(admin_write.status(), 200);
    // The rules of api.example.com do not apply to another host.
    assert_eq!(other_host.status(), 200);
    assert_eq!(browser_get.status(), 302);
    assert_eq!(
        header(&browser_get, "location"),
        format!("{SIGN_IN}?rd=https%3A%2F%2Fapp.example.com%2Fdashboard")
    );
    assert_eq!(browser_head.status(), 302);
    assert_eq!(browser_put.status(), 401);
}
