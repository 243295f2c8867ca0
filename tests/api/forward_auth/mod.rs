//! `/forward-auth`, the gateway endpoint: tokens, scopes and audiences per route, gateway
//! headers that only add demands, browser sessions and sign-in redirects; `nginx.rs` runs a
//! real nginx with `auth_request` in front of an echoing upstream; `proxies.rs` sends the
//! exact requests of Traefik `ForwardAuth` and Envoy `ext_authz`.
mod nginx;
mod proxies;
mod rules;
mod sessions;

use latchkey::config::{ForwardAuthRule, SessionPolicy, Settings};

use crate::helpers::{TestApp, spawn_app_with, urlencode};

pub fn rule(host: Option<&str>, prefix: &str, scopes: &[&str]) -> ForwardAuthRule {
    ForwardAuthRule {
        host: host.map(str::to_owned),
        path_prefix: prefix.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        audiences: Vec::new(),
        session: SessionPolicy::Deny,
    }
}

/// An app whose gateway is 127.0.0.1, with `configure` applied, and a service client `svc`
/// allowed `read` and `write`. Returns the app and the client's secret.
pub async fn gateway_app(configure: impl FnOnce(&mut Settings)) -> (TestApp, String) {
    let app = spawn_app_with(|s| {
        s.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        configure(s);
    })
    .await;
    let secret = app.create_service_client("svc", &["read", "write"]).await;
    (app, secret)
}

pub async fn token(app: &TestApp, secret: &str, scope: &str) -> String {
    let extra = format!("&scope={}", urlencode(scope));
    app.client_credentials_token("svc", secret, &extra).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A gateway's check of `uri` on `host` with `bearer`.
pub async fn check(
    app: &TestApp,
    host: &str,
    uri: &str,
    bearer: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .get(app.url("/forward-auth"))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", host)
        .header("x-forwarded-uri", uri);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

pub fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}
