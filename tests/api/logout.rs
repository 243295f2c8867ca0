//! OpenID Connect RP-Initiated Logout 1.0 at `end_session_endpoint`: redirects only to
//! registered URIs, confirmation (with CSRF) when the request is not tied to the session,
//! `sid` in ID tokens, and the session ending on every node.
use std::str::FromStr;

use latchkey::admin::clients::NewClient;
use openidconnect::core::CoreIdToken;
use openidconnect::{CsrfToken, EndSessionUrl, LogoutRequest, PostLogoutRedirectUrl};
use serde_json::Value;

use crate::flow::{
    Browser, REDIRECT, authorize_url, exchange, pkce, sign_in, sign_in_with_pkce, user,
};
use crate::helpers::{TestApp, spawn_app, urlencode};

const AFTER: &str = "http://127.0.0.1:9/signed-out";

/// A web client that registered `AFTER` as its post-logout redirect URI; returns its secret.
async fn logout_client(app: &TestApp, id: &str) -> String {
    app.create_client(NewClient {
        id: id.into(),
        name: Some("Example Web App".into()),
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![AFTER.into()],
        ..Default::default()
    })
    .await
    .expect("secret")
}

/// Signs `username` in with `browser` and returns the ID token.
async fn id_token(
    app: &TestApp,
    browser: &Browser,
    client: (&str, &str),
    username: &str,
) -> String {
    let (q, verifier, _) = sign_in_with_pkce(app, browser, client.0, username).await;
    let resp = exchange(app, client, &q["code"], &verifier).await;
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    tokens["id_token"].as_str().unwrap().to_owned()
}

/// Whether `browser` still has a session (a silent authorization request gets a code).
async fn signed_in(app: &TestApp, browser: &Browser, client_id: &str) -> bool {
    let (_, challenge) = pkce();
    let silent = browser
        .get(&authorize_url(app, client_id, &challenge, "&prompt=none"))
        .await;
    silent.callback().contains_key("code")
}

async fn end_session_endpoint(app: &TestApp) -> String {
    let meta = app.openid_configuration().await;
    assert_eq!(meta["frontchannel_logout_supported"], false);
    meta["end_session_endpoint"].as_str().unwrap().to_owned()
}

/// The logout URL as a relying party builds it with the `openidconnect` crate.
fn logout_url(endpoint: &str, hint: &str, after: &str, state: &str) -> String {
    LogoutRequest::from(EndSessionUrl::new(endpoint.into()).unwrap())
        .set_id_token_hint(&CoreIdToken::from_str(hint).unwrap())
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(after.into()).unwrap())
        .set_state(CsrfToken::new(state.into()))
        .http_get_url()
        .to_string()
}

#[tokio::test]
async fn logout_with_id_token_hint_redirects_with_state_and_ends_the_session_on_every_node() {
    // Arrange
    let a = spawn_app().await;
    let b = a.second_node().await;
    let secret = logout_client(&a, "web").await;
    user(&a, "alice").await;
    let browser = Browser::new();
    let hint = id_token(&a, &browser, ("web", &secret), "alice").await;
    let (_, claims) = a.verify_jwt(&hint, "web").await;
    let sid = claims["sid"].as_str().expect("sid claim").to_owned();
    assert!(sid.len() >= 32, "{sid}");
    // The sid is the session's, not per token: a second sign-in in the session has the same.
    let again = id_token(&a, &browser, ("web", &secret), "alice").await;
    assert_eq!(a.verify_jwt(&again, "web").await.1["sid"], sid.as_str());

    // Act: the relying party sends the browser to node B's end_session_endpoint.
    let url = logout_url(&end_session_endpoint(&b).await, &hint, AFTER, "st-9");
    let out = browser.get(&url).await;

    // Assert: straight back with state, and node A no longer knows the session.
    assert_eq!(out.status, 303, "{out:?}");
    assert_eq!(
        out.location.as_deref(),
        Some(format!("{AFTER}?state=st-9").as_str())
    );
    assert!(!signed_in(&a, &browser, "web").await);
    assert!(!signed_in(&b, &browser, "web").await);
}

#[tokio::test]
async fn an_unregistered_or_unattributed_post_logout_redirect_uri_is_refused() {
    let app = spawn_app().await;
    let secret = logout_client(&app, "web").await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let hint = id_token(&app, &browser, ("web", &secret), "alice").await;
    let endpoint = end_session_endpoint(&app).await;

    for uri in [
        "https://evil.example/after",
        "http://127.0.0.1:9/signed-out/",
        "http://127.0.0.1:9/signed-out?x=1",
        REDIRECT,
    ] {
        let page = browser.get(&logout_url(&endpoint, &hint, uri, "s")).await;
        assert_eq!(page.status, 400, "{uri}: {page:?}");
        assert!(page.location.is_none());
        assert!(page.body.contains("not registered"), "{}", page.body);
    }
    // Without id_token_hint or client_id, no client is named: an error page, no redirect.
    let bare = browser
        .get(&format!(
            "{endpoint}?post_logout_redirect_uri={}&state=s",
            urlencode(AFTER)
        ))
        .await;
    assert_eq!(bare.status, 400);
    assert!(bare.location.is_none());
    // A hint that is not our ID token (tampered signature), or client_id disagreeing with it.
    let at = hint.len() - 10;
    let swapped = if &hint[at..=at] == "A" { "B" } else { "A" };
    let tampered = format!("{}{swapped}{}", &hint[..at], &hint[at + 1..]);
    let bad = browser
        .get(&logout_url(&endpoint, &tampered, AFTER, "s"))
        .await;
    assert_eq!(bad.status, 400);
    logout_client(&app, "other").await;
    let mismatch = browser
        .get(&format!(
            "{}&client_id=other",
            logout_url(&endpoint, &hint, AFTER, "s")
        ))
        .await;
    assert_eq!(mismatch.status, 400);
    assert!(mismatch.location.is_none());
    // None of these ended the session.
    assert!(signed_in(&app, &browser, "web").await);
}

#[tokio::test]
async fn without_a_hint_the_person_confirms_through_a_csrf_protected_form() {
    // Arrange
    let app = spawn_app().await;
    logout_client(&app, "web").await;
    user(&app, "alice").await;
    let browser = Browser::new();
    sign_in_with_pkce(&app, &browser, "web", "alice").await;
    let endpoint = end_session_endpoint(&app).await;

    // Act: a request that names the client but cannot prove it is the session's.
    let confirm = browser
        .get(&format!(
            "{endpoint}?client_id=web&post_logout_redirect_uri={}&state=st-1",
            urlencode(AFTER)
        ))
        .await;

    // Assert: a confirmation page, and nothing ended yet.
    assert_eq!(confirm.status, 200, "{confirm:?}");
    assert!(confirm.body.contains("Example Web App"));
    assert!(confirm.body.contains("alice Example"));
    assert!(signed_in(&app, &browser, "web").await);
    // The redirect after the form must be allowed by the page's CSP.
    let csp = confirm.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9"),
        "{csp}"
    );
    let ticket = confirm.input("ticket").unwrap();
    let csrf = confirm.input("csrf_token").unwrap();

    // A forged form (wrong CSRF token) or a forged ticket changes nothing.
    let forged = browser
        .post(
            &app.url("/logout"),
            &[("csrf_token", "forged"), ("ticket", &ticket)],
        )
        .await;
    assert_eq!(forged.status, 403);
    let bad_ticket = browser
        .post(
            &app.url("/logout"),
            &[("csrf_token", &csrf), ("ticket", "x.1.y")],
        )
        .await;
    assert_eq!(bad_ticket.status, 400);
    assert!(signed_in(&app, &browser, "web").await);

    // The real form ends the session and goes back with state.
    let done = browser
        .post(
            &app.url("/logout"),
            &[("csrf_token", &csrf), ("ticket", &ticket)],
        )
        .await;
    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(
        done.location.as_deref(),
        Some(format!("{AFTER}?state=st-1").as_str())
    );
    assert!(!signed_in(&app, &browser, "web").await);
}

#[tokio::test]
async fn a_hint_from_another_session_asks_for_confirmation() {
    let app = spawn_app().await;
    let secret = logout_client(&app, "web").await;
    user(&app, "alice").await;
    user(&app, "bob").await;
    let first = Browser::new();
    let old_hint = id_token(&app, &first, ("web", &secret), "alice").await;
    let second = Browser::new();
    let (_, challenge) = pkce();
    sign_in(
        &app,
        &second,
        &authorize_url(&app, "web", &challenge, ""),
        "alice",
    )
    .await;
    let bob = Browser::new();
    sign_in(
        &app,
        &bob,
        &authorize_url(&app, "web", &challenge, ""),
        "bob",
    )
    .await;
    let endpoint = end_session_endpoint(&app).await;

    // Same person, another session (sid mismatch); another person: both must confirm.
    for browser in [&second, &bob] {
        let page = browser
            .get(&logout_url(&endpoint, &old_hint, AFTER, "s"))
            .await;
        assert_eq!(page.status, 200, "{page:?}");
        assert!(page.input("ticket").is_some());
        assert!(signed_in(&app, browser, "web").await);
    }
    // A POST from the relying party is handled like the GET.
    let posted = second
        .post(
            &endpoint,
            &[
                ("id_token_hint", old_hint.as_str()),
                ("post_logout_redirect_uri", AFTER),
            ],
        )
        .await;
    assert_eq!(posted.status, 200);
    assert!(posted.input("ticket").is_some());
    // With no session at all, the relying party is simply sent back.
    let none = Browser::new()
        .get(&logout_url(&endpoint, &old_hint, AFTER, "s"))
        .await;
    assert_eq!(none.status, 303);
}
