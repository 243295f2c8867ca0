//! Passkeys (WebAuthn): registration on the account page, sign-in without a username, and
//! a passkey as the second step after a password (`second_factor`). `http` drives the
//! server with a software authenticator (`authenticator`) to reach every refusal; `browser`
//! runs the whole journey in headless Chromium with its virtual authenticator. WebAuthn
//! needs a domain, so these servers' issuer is `http://localhost:PORT`.
mod authenticator;
mod browser;
mod http;
mod second_factor;

use std::collections::HashSet;

use latchkey::config::Settings;
use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::flow::{Browser, Page, REDIRECT, authorize_url, pkce, sign_in, web_client};
use crate::helpers::{TestApp, spawn_app_with, urlencode};
use authenticator::SoftKey;

/// A server whose issuer is `http://localhost:PORT`; requests go to that address too.
pub async fn passkey_app(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let mut app = spawn_app_with(|s| {
        s.issuer = url::Url::parse(&format!("http://localhost:{}", s.listen.port())).unwrap();
        configure(s);
    })
    .await;
    let port = url::Url::parse(&app.address).unwrap().port().unwrap();
    app.address = format!("http://localhost:{port}");
    app
}

/// A browser signed in (with the password) as `username`, through an authorization
/// request of the client `web`.
pub async fn signed_in(app: &TestApp, username: &str) -> Browser {
    let browser = Browser::new();
    let (_, challenge) = pkce();
    let url = authorize_url(app, "web", &challenge, "");
    let callback = sign_in(app, &browser, &url, username).await;
    assert!(callback.contains_key("code"), "{callback:?}");
    browser
}

/// POSTs to a passkey options endpoint as `static/passkeys.js` does.
pub async fn options(
    app: &TestApp,
    browser: &Browser,
    path: &str,
    csrf: &str,
) -> reqwest::Response {
    browser
        .http
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("x-csrf-token", csrf)
        .body("{}")
        .send()
        .await
        .unwrap()
}

/// The account page's list of passkeys, as the signed-in browser sees it.
pub async fn account_page(app: &TestApp, browser: &Browser) -> Page {
    let page = browser.get(&app.url("/account/passkeys")).await;
    assert_eq!(page.status, 200, "{page:?}");
    page
}

/// Registers a passkey named `name` for the signed-in browser with a software
/// authenticator; returns it.
pub async fn register(app: &TestApp, browser: &Browser, name: &str) -> SoftKey {
    register_with_flags(app, browser, name, authenticator::UP | authenticator::UV).await
}

/// `register` with these authenticator data flags.
pub async fn register_with_flags(
    app: &TestApp,
    browser: &Browser,
    name: &str,
    flags: u8,
) -> SoftKey {
    let page = account_page(app, browser).await;
    let csrf = page.input("csrf_token").expect("csrf_token");
    let resp = options(app, browser, "/account/passkeys/options", &csrf).await;
    assert_eq!(resp.status(), 200);
    let opts: Value = resp.json().await.unwrap();
    let (key, credential) = SoftKey::create_with_flags(&opts, &app.address, flags);
    let done = browser
        .post(
            &app.url("/account/passkeys"),
            &[
                ("csrf_token", &csrf),
                ("name", name),
                ("credential", &credential.to_string()),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(
        done.location.as_deref(),
        Some("/account/passkeys?done=registered")
    );
    key
}

/// The login page of a fresh authorization request in `browser`, with `verifier` for the
/// token request.
pub async fn login_page(app: &TestApp, browser: &Browser) -> (Page, String) {
    let (verifier, challenge) = pkce();
    let page = browser
        .get(&authorize_url(app, "web", &challenge, "&prompt=login"))
        .await;
    assert!(page.is_login(), "{page:?}");
    (page, verifier)
}

/// Sign-in options for the login page `page`.
pub async fn sign_in_options(app: &TestApp, browser: &Browser, page: &Page) -> Value {
    let csrf = page.input("csrf_token").expect("csrf_token");
    let resp = options(app, browser, "/login/passkey/options", &csrf).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// One passkey sign-in on the login page `page`: fresh options, and the credential that
/// `answer` makes from them.
pub async fn attempt(
    app: &TestApp,
    browser: &Browser,
    page: &Page,
    answer: impl FnOnce(&Value) -> Value,
) -> Page {
    let opts = sign_in_options(app, browser, page).await;
    post_assertion(app, browser, page, &answer(&opts).to_string()).await
}

/// Posts an assertion (or anything) as the login page's passkey form.
pub async fn post_assertion(
    app: &TestApp,
    browser: &Browser,
    page: &Page,
    credential: &str,
) -> Page {
    browser
        .post(
            &app.url("/login/passkey"),
            &[
                ("csrf_token", &page.input("csrf_token").unwrap()),
                ("req", &page.input("req").unwrap()),
                ("credential", credential),
            ],
        )
        .await
}

/// Exchanges a code from the callback for tokens; returns the ID token's claims.
pub async fn id_token_claims(app: &TestApp, secret: &str, code: &str, verifier: &str) -> Value {
    id_token_claims_at(app, secret, code, verifier, REDIRECT).await
}

/// `id_token_claims` for a code sent to `redirect_uri`.
pub async fn id_token_claims_at(
    app: &TestApp,
    secret: &str,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Value {
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={verifier}",
        urlencode(code),
        urlencode(redirect_uri)
    );
    let resp = app.post_form("/token", &body, Some(("web", secret))).await;
    assert_eq!(resp.status(), 200, "token exchange");
    let tokens: Value = resp.json().await.unwrap();
    app.verify_jwt(tokens["id_token"].as_str().unwrap(), "web")
        .await
        .1
}

/// The client every test signs in to; returns its secret.
pub async fn client(app: &TestApp) -> String {
    web_client(app, "web").await
}

/// Everything a refused answer must leave alone: row counts, and each passkey as stored
/// (counter and last use included).
pub async fn snapshot(app: &TestApp) -> (Vec<(&'static str, i64)>, Vec<String>) {
    let conn = sea_orm::Database::connect(app.db_url()).await.unwrap();
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT id, credential, last_used_at, name FROM passkeys ORDER BY id",
        ))
        .await
        .unwrap();
    conn.close().await.ok();
    let keys = rows
        .iter()
        .map(|r| {
            let id: String = r.try_get("", "id").unwrap();
            let credential: String = r.try_get("", "credential").unwrap();
            let used: Option<i64> = r.try_get("", "last_used_at").unwrap();
            let name: String = r.try_get("", "name").unwrap();
            format!("{id}|{credential}|{used:?}|{name}")
        })
        .collect();
    (app.stored().await, keys)
}

/// The `amr` values of ID token claims.
pub fn amr(claims: &Value) -> HashSet<String> {
    claims["amr"]
        .as_array()
        .unwrap_or_else(|| panic!("amr in {claims}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}
