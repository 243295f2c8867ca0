//! The account page over real HTTP with cookies: sign-in redirect, CSRF, profile, password
//! change (through the sign-in throttle), connected apps and their revocation, sessions and
//! signing them out with back-channel logout to their clients.
use std::time::Duration;

use latchkey::oauth::ports::UserRepository;
use serde_json::Value;

use crate::backchannel_logout::{Receiver, client_with, sign_in_to, start_receiver, wait_for};
use crate::flow::{
    Browser, PASSWORD, Page, exchange, refresh, sign_in_with_pkce, user, web_client,
};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// A browser signed in to the account page as `username`.
async fn signed_in(app: &TestApp, username: &str) -> Browser {
    let browser = Browser::new();
    let login = browser.get(&app.url("/signin?return_to=/account")).await;
    let done = browser.login(app, &login, username, PASSWORD).await;
    assert_eq!(done.status, 303, "{done:?}");
    browser
}

/// Opens the account page and posts one of its forms with the page's CSRF token.
async fn submit(app: &TestApp, browser: &Browser, action: &str, fields: &[(&str, &str)]) -> Page {
    let page = browser.get(&app.url("/account")).await;
    assert_eq!(page.status, 200, "{page:?}");
    let csrf = page.input("csrf_token").expect("csrf_token");
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(fields);
    browser.post(&app.url(action), &form).await
}

/// The `sid` of each session row on the account page, the current one first.
fn session_ids(page: &Page) -> Vec<(String, bool)> {
    page.body
        .split("<li class=\"row")
        .skip(1)
        .filter_map(|row| {
            let current = row.starts_with(" row-current");
            let sid = row.split("data-sid=\"").nth(1)?.split('"').next()?;
            Some((sid.to_owned(), current))
        })
        .collect()
}

async fn still_signed_in(app: &TestApp, browser: &Browser) -> bool {
    let page = browser.get(&app.url("/account")).await;
    match page.status {
        200 => true,
        303 => {
            assert_eq!(
                page.location.as_deref(),
                Some("/signin?return_to=%2Faccount")
            );
            false
        }
        other => panic!("unexpected status {other}: {page:?}"),
    }
}

#[tokio::test]
async fn the_account_page_needs_a_session_and_returns_to_it_after_sign_in() {
    let app = spawn_app().await;
    user(&app, "alice").await;
    let browser = Browser::new();

    let first = browser.get(&app.url("/account")).await;
    assert_eq!(first.status, 303);
    let to = first.location.unwrap();
    let login = browser.get(&app.url(&to)).await;
    let back = browser.login(&app, &login, "alice", PASSWORD).await;
    assert_eq!(back.location.as_deref(), Some(app.url("/account").as_str()));
    let page = browser.get(&app.url("/account")).await;

    assert_eq!(page.status, 200);
    assert!(page.body.contains("alice"));
    assert!(page.body.contains("alice@example.com"));
    let sessions = session_ids(&page);
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].1, "this session is marked");
    // German when the browser asks for it.
    let de = browser
        .http
        .get(app.url("/account"))
        .header("accept-language", "de")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(de.contains("Verbundene Apps") && de.contains("Aktive Sitzungen"));
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let browser = signed_in(&app, "alice").await;
    let before = app.stored().await;

    for (action, fields) in [
        (
            "/account/profile",
            vec![("name", "Mallory"), ("email", "m@evil.test")],
        ),
        (
            "/account/password",
            vec![
                ("current_password", PASSWORD),
                ("new_password", "attacker-chosen"),
                ("repeat_password", "attacker-chosen"),
            ],
        ),
        ("/account/sessions/end-all", vec![]),
    ] {
        let mut forged = vec![("csrf_token", "forged")];
        forged.extend(fields.iter().copied());
        let missing: Vec<_> = fields.clone();
        for form in [forged, missing] {
            let page = browser.post(&app.url(action), &form).await;
            assert_eq!(page.status, 403, "{action}: {page:?}");
        }
    }

    assert_eq!(app.stored().await, before);
    let stored = app.store.find_user_by_id(&alice).await.unwrap().unwrap();
    assert_eq!(stored.name.as_deref(), Some("alice Example"));
    assert!(still_signed_in(&app, &browser).await);
}

#[tokio::test]
async fn a_new_email_is_not_verified_and_an_invalid_one_is_refused() {
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let browser = signed_in(&app, "alice").await;

    let bad = submit(
        &app,
        &browser,
        "/account/profile",
        &[("name", "Alice"), ("email", "not an address")],
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"profile-error\""));
    let unchanged = app.store.find_user_by_id(&alice).await.unwrap().unwrap();
    assert_eq!(unchanged.email.as_deref(), Some("alice@example.com"));
    assert!(unchanged.email_verified);

    let same = submit(
        &app,
        &browser,
        "/account/profile",
        &[("name", "Alice Liddell"), ("email", "alice@example.com")],
    )
    .await;
    assert_eq!(same.status, 303);
    let renamed = app.store.find_user_by_id(&alice).await.unwrap().unwrap();
    assert_eq!(renamed.name.as_deref(), Some("Alice Liddell"));
    assert!(renamed.email_verified, "the same address stays verified");

    let moved = submit(
        &app,
        &browser,
        "/account/profile",
        &[
            ("name", "Alice Liddell"),
            ("email", "alice@wonderland.example"),
        ],
    )
    .await;
    assert_eq!(moved.status, 303);
    assert_eq!(moved.location.as_deref(), Some("/account?done=profile"));
    let user = app.store.find_user_by_id(&alice).await.unwrap().unwrap();
    assert_eq!(user.email.as_deref(), Some("alice@wonderland.example"));
    assert!(!user.email_verified);
    let page = browser.get(&app.url("/account?done=profile")).await;
    assert!(page.body.contains("Your profile was saved."));
}

#[tokio::test]
async fn a_wrong_current_password_is_refused_and_counted_by_the_sign_in_throttle() {
    let app = spawn_app_with(|s| {
        s.login.max_failures = 3;
    })
    .await;
    user(&app, "alice").await;
    let browser = signed_in(&app, "alice").await;
    let change = [
        ("current_password", "not my password"),
        ("new_password", "a new passphrase"),
        ("repeat_password", "a new passphrase"),
    ];

    let first = submit(&app, &browser, "/account/password", &change).await;

    assert_eq!(first.status, 403, "{first:?}");
    assert!(first.body.contains("Your current password is not correct."));
    assert_eq!(
        app.count_rows("login_failures").await,
        2,
        "per (name, address) and per name"
    );
    // Guessing on goes into the same throttle as the login form.
    let mut last = first;
    for _ in 0..3 {
        last = submit(&app, &browser, "/account/password", &change).await;
    }
    assert_eq!(last.status, 429, "{last:?}");
    assert!(last.headers.contains_key("retry-after"));
    // The password did not change.
    let stored = app
        .store
        .find_user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    assert!(latchkey::crypto::verify_password(
        PASSWORD,
        &stored.password_hash
    ));
    assert!(still_signed_in(&app, &browser).await);
}

#[tokio::test]
async fn a_short_or_mismatched_new_password_is_refused() {
    let app = spawn_app().await;
    user(&app, "alice").await;
    let browser = signed_in(&app, "alice").await;
    for (new, repeat) in [("short", "short"), ("long enough 1", "long enough 2")] {
        let page = submit(
            &app,
            &browser,
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", new),
                ("repeat_password", repeat),
            ],
        )
        .await;
        assert_eq!(page.status, 400, "{page:?}");
    }
    assert_eq!(app.count_rows("login_failures").await, 0);
    let stored = app
        .store
        .find_user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    assert!(latchkey::crypto::verify_password(
        PASSWORD,
        &stored.password_hash
    ));
}

#[tokio::test]
async fn changing_the_password_ends_every_other_session_with_back_channel_logout() {
    // Arrange: alice uses "web" (with a logout receiver) on a laptop, and the account page
    // on a phone.
    let app = spawn_app().await;
    let rx = Receiver::default();
    let web = client_with(&app, "web", Some(start_receiver(rx.clone()).await)).await;
    user(&app, "alice").await;
    let laptop = Browser::new();
    let id_claims = sign_in_to(&app, &laptop, ("web", &web)).await;
    let phone = signed_in(&app, "alice").await;

    // Act
    let done = submit(
        &app,
        &phone,
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "a new passphrase"),
            ("repeat_password", "a new passphrase"),
        ],
    )
    .await;

    // Assert
    assert_eq!(done.status, 303, "{done:?}");
    assert!(!still_signed_in(&app, &laptop).await);
    assert!(still_signed_in(&app, &phone).await);
    let got = wait_for(&rx.tokens, 1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    let (_, claims) = app.verify_jwt(&got[0], "web").await;
    assert_eq!(claims["sid"], id_claims["sid"]);
    let stored = app
        .store
        .find_user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    assert!(latchkey::crypto::verify_password(
        "a new passphrase",
        &stored.password_hash
    ));
    assert!(stored.password_hash.starts_with("$argon2id$"));
}

#[tokio::test]
async fn revoking_a_connected_app_ends_its_tokens_and_a_refresh_fails_with_invalid_grant() {
    use openidconnect::core::{CoreClient, CoreProviderMetadata};
    use openidconnect::{
        AuthorizationCode, ClientId, ClientSecret, IssuerUrl, OAuth2TokenResponse,
        PkceCodeVerifier, RedirectUrl,
    };
    // Arrange: alice approved "web"; the app holds a refresh and an access token.
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let (q, verifier, _) = sign_in_with_pkce(&app, &browser, "web", "alice").await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new("web".into()),
        Some(ClientSecret::new(secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(crate::flow::REDIRECT.into()).unwrap());
    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&http)
        .await
        .unwrap();
    let access = tokens.access_token().secret().clone();
    let refresh_token = tokens.refresh_token().unwrap().clone();
    let page = browser.get(&app.url("/account")).await;
    assert!(page.body.contains("Example Web App"));
    assert!(page.body.contains("data-client-id=\"web\""));
    assert_eq!(
        app.introspect(&access, ("web", &secret)).await["active"],
        true
    );

    // Act
    let done = submit(
        &app,
        &browser,
        "/account/apps/revoke",
        &[("client_id", "web")],
    )
    .await;

    // Assert
    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(app.count_rows("consents").await, 0);
    assert_eq!(app.count_rows("refresh_tokens").await, 0);
    let err = client
        .exchange_refresh_token(&refresh_token)
        .unwrap()
        .request_async(&http)
        .await
        .expect_err("refresh after revoke");
    match err {
        openidconnect::RequestTokenError::ServerResponse(r) => {
            assert_eq!(r.error().as_ref(), "invalid_grant");
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
    assert_eq!(
        app.introspect(&access, ("web", &secret)).await["active"],
        false
    );
    let userinfo = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    let page = browser.get(&app.url("/account?done=revoked")).await;
    assert!(!page.body.contains("data-client-id=\"web\""));
    // Signing in to the app again asks for consent again.
    let (_, challenge) = crate::flow::pkce();
    let again = browser
        .get(&crate::flow::authorize_url(&app, "web", &challenge, ""))
        .await;
    assert!(again.is_consent(), "{again:?}");
}

#[tokio::test]
async fn a_refresh_token_of_a_revoked_app_fails_at_the_token_endpoint() {
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let (q, verifier, _) = sign_in_with_pkce(&app, &browser, "web", "alice").await;
    let tokens: Value = exchange(&app, ("web", &secret), &q["code"], &verifier)
        .await
        .json()
        .await
        .unwrap();

    submit(
        &app,
        &browser,
        "/account/apps/revoke",
        &[("client_id", "web")],
    )
    .await;

    let resp = refresh(
        &app,
        ("web", &secret),
        tokens["refresh_token"].as_str().unwrap(),
    )
    .await;
    crate::helpers::assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test]
async fn signing_out_one_session_ends_it_on_every_node_and_notifies_its_clients() {
    let app = spawn_app().await;
    let rx = Receiver::default();
    let web = client_with(&app, "web", Some(start_receiver(rx.clone()).await)).await;
    user(&app, "alice").await;
    let laptop = Browser::new();
    let id_claims = sign_in_to(&app, &laptop, ("web", &web)).await;
    let phone = signed_in(&app, "alice").await;
    let page = phone.get(&app.url("/account")).await;
    let sessions = session_ids(&page);
    assert_eq!(sessions.len(), 2);
    let (laptop_sid, _) = sessions
        .iter()
        .find(|(_, current)| !current)
        .unwrap()
        .clone();
    assert_eq!(laptop_sid, id_claims["sid"].as_str().unwrap());

    // On another node of the deployment.
    let other = app.second_node().await;
    let done = submit(
        &other,
        &phone,
        "/account/sessions/end",
        &[("sid", &laptop_sid)],
    )
    .await;

    assert_eq!(done.status, 303, "{done:?}");
    assert!(!still_signed_in(&app, &laptop).await);
    assert!(still_signed_in(&other, &phone).await);
    let got = wait_for(&rx.tokens, 1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    let (_, claims) = app.verify_jwt(&got[0], "web").await;
    assert_eq!(claims["sid"], laptop_sid.as_str());
    assert_eq!(app.count_rows("logout_outbox").await, 0, "delivered once");
}

#[tokio::test]
async fn a_sid_of_someone_else_ends_nothing() {
    let app = spawn_app().await;
    user(&app, "alice").await;
    user(&app, "bob").await;
    let bob = signed_in(&app, "bob").await;
    let bob_sid = session_ids(&bob.get(&app.url("/account")).await)[0]
        .0
        .clone();
    let alice = signed_in(&app, "alice").await;

    let page = submit(&app, &alice, "/account/sessions/end", &[("sid", &bob_sid)]).await;

    assert_eq!(page.status, 303);
    assert!(still_signed_in(&app, &bob).await);
    assert!(still_signed_in(&app, &alice).await);
    assert_eq!(app.count_rows("sessions").await, 2);
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_and_notifies_the_clients() {
    let app = spawn_app().await;
    let rx = Receiver::default();
    let web = client_with(&app, "web", Some(start_receiver(rx.clone()).await)).await;
    user(&app, "alice").await;
    let laptop = Browser::new();
    sign_in_to(&app, &laptop, ("web", &web)).await;
    let phone = signed_in(&app, "alice").await;

    let done = submit(&app, &phone, "/account/sessions/end-all", &[]).await;

    assert_eq!(done.status, 200, "{done:?}");
    assert!(done.body.contains("You have signed out."));
    assert!(!still_signed_in(&app, &laptop).await);
    assert!(!still_signed_in(&app, &phone).await);
    assert_eq!(app.count_rows("sessions").await, 0);
    assert_eq!(
        wait_for(&rx.tokens, 1, Duration::from_secs(10)).await.len(),
        1
    );
}
