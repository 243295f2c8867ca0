//! The demo relying-party app against a real server, driven by the scripted browser: the
//! whole journey through its pages, and what it refuses.
use latchkey::demo::{self, DemoApp};

use crate::flow::{Browser, Page};
use crate::helpers::{TestApp, spawn_app};

/// The demo user and client, and the demo app on its own port; returns the app's URL.
pub async fn start_demo(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect = demo::redirect_uri_for(listener.local_addr().unwrap());
    let client = demo::provision(&app.store, &redirect)
        .await
        .expect("provision");
    let demo_app = DemoApp::build(listener, &app.address, &client).expect("build the demo app");
    let url = demo_app.url();
    tokio::spawn(demo_app.run(std::future::pending()));
    url
}

/// Follows redirects by hand (the scripted browser does not), up to a bound.
async fn follow(browser: &Browser, mut page: Page, base: &str) -> Page {
    for _ in 0..10 {
        let Some(location) = page.location.clone() else {
            return page;
        };
        let url = url::Url::parse(base).unwrap().join(&location).unwrap();
        page = browser.get(url.as_str()).await;
    }
    panic!("too many redirects");
}

#[tokio::test]
async fn the_demo_app_signs_in_refreshes_and_signs_out() {
    // Arrange
    let app = spawn_app().await;
    let demo_url = start_demo(&app).await;
    let browser = Browser::new();

    // Act: the start page, then its button.
    let home = browser.get(&demo_url).await;
    let login = follow(
        &browser,
        browser.get(&format!("{demo_url}signin")).await,
        &demo_url,
    )
    .await;
    let consent = browser
        .login(&app, &login, demo::DEMO_USERNAME, demo::DEMO_PASSWORD)
        .await;
    let back = browser.consent(&app, &consent, "allow").await;
    let claims = follow(&browser, back, &demo_url).await;

    // Assert: a demo, marked as such; the claims and userinfo of the demo person.
    assert!(home.body.contains("Sign in with Latchkey"));
    assert!(home.body.contains("Never run it in production"));
    assert!(login.is_login(), "{login:?}");
    assert!(consent.is_consent());
    assert_eq!(claims.status, 200, "{}", claims.body);
    assert!(claims.body.contains("Never run it in production"));
    assert!(claims.body.contains("Demo Person"), "{}", claims.body);
    assert!(
        claims
            .body
            .contains("&quot;aud&quot;: &quot;latchkey-demo&quot;")
            || claims
                .body
                .contains("&#34;aud&#34;: &#34;latchkey-demo&#34;"),
        "{}",
        claims.body
    );
    assert!(claims.body.contains("demo@example.com"));
    assert!(claims.body.contains(&app.address));

    // Act + Assert: refresh keeps the person and counts.
    let csrf = claims.input("csrf").expect("csrf on the forms");
    let refreshed = browser
        .post(&format!("{demo_url}refresh"), &[("csrf", &csrf)])
        .await;
    let refreshed = follow(&browser, refreshed, &demo_url).await;
    assert!(
        refreshed.body.contains(r#"<dd id="refreshed">1</dd>"#),
        "{}",
        refreshed.body
    );
    // A form without the session's token is refused.
    let forged = browser
        .post(&format!("{demo_url}signout"), &[("csrf", "forged")])
        .await;
    assert_eq!(forged.status, 403);

    // Act + Assert: sign-out ends the app's session and sends the browser to Latchkey's
    // end_session_endpoint with the ID token as hint, which ends the Latchkey session at once
    // and comes back to the registered post-logout URI, the demo's start page.
    let out = browser
        .post(&format!("{demo_url}signout"), &[("csrf", &csrf)])
        .await;
    let location = out.location.clone().expect("a redirect");
    assert!(
        location.starts_with(&app.url("/logout?")) && location.contains("id_token_hint="),
        "{location}"
    );
    let ended = browser.get(&location).await;
    assert_eq!(ended.status, 303, "{ended:?}");
    assert_eq!(ended.location.as_deref(), Some(demo_url.as_str()));
    let again = browser.get(&demo_url).await;
    assert!(again.body.contains("Sign in with Latchkey"));
}

#[tokio::test]
async fn the_demo_app_refuses_a_callback_it_did_not_start() {
    let app = spawn_app().await;
    let demo_url = start_demo(&app).await;
    let browser = Browser::new();

    let page = browser
        .get(&format!("{demo_url}callback?code=abc&state=forged"))
        .await;

    assert_eq!(page.status, 400);
    assert!(page.body.contains("not started here"), "{}", page.body);
    assert!(page.body.contains("Never run it in production"));
}

#[tokio::test]
async fn provisioning_the_demo_twice_keeps_one_user_and_one_client() {
    let app = spawn_app().await;

    let first = demo::provision(&app.store, "http://127.0.0.1:8081/callback")
        .await
        .unwrap();
    let second = demo::provision(&app.store, "http://127.0.0.1:8081/callback")
        .await
        .unwrap();
    let moved = demo::provision(&app.store, "http://127.0.0.1:9999/callback")
        .await
        .unwrap();

    assert_ne!(
        first.client_secret, second.client_secret,
        "a fresh secret each start"
    );
    let users = latchkey::admin::users::list(&app.store).await.unwrap();
    assert_eq!(users.len(), 1);
    let clients = latchkey::admin::clients::list(&app.store).await.unwrap();
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0].redirect_uris[0].as_str(), moved.redirect_uri);
    // The secret handed to the demo app is the one that works.
    let token = app
        .post_form(
            "/token",
            "grant_type=client_credentials",
            Some((demo::DEMO_CLIENT_ID, &moved.client_secret)),
        )
        .await;
    assert_ne!(token.status(), 401);
}
