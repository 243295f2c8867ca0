//! Security headers on every response: pages, error pages, JSON, errors and 404s
//! (clickjacking and referrer leakage, RFC 9700 sections 4.16 and 4.2.4).
use crate::helpers::{spawn_app, spawn_app_with};

const PATHS: &[(&str, &str)] = &[
    ("GET", "/authorize"),
    ("GET", "/authorize?client_id=nobody"),
    ("GET", "/login"),
    ("GET", "/logout"),
    ("GET", "/jwks"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/healthz"),
    ("GET", "/no-such-page"),
    ("POST", "/token"),
    ("GET", "/userinfo"),
];

async fn headers_of(
    app: &crate::helpers::TestApp,
    method: &str,
    path: &str,
) -> reqwest::header::HeaderMap {
    let req = match method {
        "POST" => app
            .http
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=nope"),
        _ => app.http.get(app.url(path)),
    };
    req.send().await.unwrap().headers().clone()
}

#[tokio::test]
async fn every_response_forbids_framing_sniffing_and_referrers() {
    let app = spawn_app().await;
    for (method, path) in PATHS {
        let h = headers_of(&app, method, path).await;
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "http issuer: {path}"
        );
    }
}

#[tokio::test]
async fn hsts_is_sent_when_the_issuer_is_https() {
    let app =
        spawn_app_with(|s| s.issuer = url::Url::parse("https://login.example.com").unwrap()).await;
    for (method, path) in PATHS {
        let h = headers_of(&app, method, path).await;
        assert_eq!(h["strict-transport-security"], "max-age=31536000", "{path}");
    }
}
