//! When two factors are required: by the client, globally, or by the request's
//! `acr_values`. Without a second factor a person enrols during the sign-in and gets no
//! code before; a one-factor session gets the second factor only (step-up).
use latchkey::admin::clients::NewClient;

use super::{
    code_at, enrol, is_code_page, is_enrol_page, key_on, now, recovery_codes_on, settle_clock,
    submit_code,
};
use crate::flow::{
    Browser, PASSWORD, REDIRECT, authorize_url, pkce, require_two_factors, user, web_client,
};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// Password on a fresh request for `client_id` (with `extra` query text): the page after it.
async fn after_password(
    app: &TestApp,
    browser: &Browser,
    client_id: &str,
    extra: &str,
) -> crate::flow::Page {
    let (_, challenge) = pkce();
    let login = browser
        .get(&authorize_url(app, client_id, &challenge, extra))
        .await;
    browser.login(app, &login, "alice", PASSWORD).await
}

/// Enrols on the sign-in's enrolment page and continues: the page after "continue".
async fn enrol_during_sign_in(
    app: &TestApp,
    browser: &Browser,
    page: &crate::flow::Page,
) -> crate::flow::Page {
    assert!(is_enrol_page(page, "/login/enrol"), "{page:?}");
    let key = key_on(page);
    let codes = submit_code(app, browser, page, "/login/enrol", &code_at(&key, now())).await;
    assert_eq!(recovery_codes_on(&codes).len(), 10, "{codes:?}");
    let csrf = codes.input("csrf_token").unwrap();
    let pending = codes.input("pending").unwrap();
    browser
        .post(
            &app.url("/login/continue"),
            &[("csrf_token", &csrf), ("pending", &pending)],
        )
        .await
}

#[tokio::test]
async fn a_client_that_requires_two_factors_makes_people_enrol_before_any_code() {
    let app = spawn_app().await;
    app.create_client(NewClient {
        id: "bank".into(),
        redirect_uris: vec![REDIRECT.into()],
        first_party: true,
        require_two_factor: true,
        ..Default::default()
    })
    .await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    settle_clock(5).await;

    let browser = Browser::new();
    let page = after_password(&app, &browser, "bank", "").await;
    assert!(is_enrol_page(&page, "/login/enrol"), "{page:?}");
    assert_eq!(app.count_rows("authorization_codes").await, 0);
    assert_eq!(
        app.count_rows("sessions").await,
        0,
        "no session before the second factor"
    );
    let done = enrol_during_sign_in(&app, &browser, &page).await;
    assert_eq!(done.status, 303, "{done:?}");
    assert!(done.callback().contains_key("code"));

    // Another client without the requirement: the password is enough for someone without
    // an authenticator (bob), and a person with one is asked for the code all the same.
    user(&app, "bob").await;
    let other = Browser::new();
    let (_, challenge) = pkce();
    let login = other.get(&authorize_url(&app, "web", &challenge, "")).await;
    let next = other.login(&app, &login, "bob", PASSWORD).await;
    assert!(next.is_consent(), "{next:?}");
}

#[tokio::test]
async fn the_global_setting_requires_two_factors_everywhere() {
    let app = spawn_app_with(|s| s.login.require_two_factor = true).await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    settle_clock(5).await;
    let browser = Browser::new();
    let page = after_password(&app, &browser, "web", "").await;
    let done = enrol_during_sign_in(&app, &browser, &page).await;
    assert!(done.is_consent(), "{done:?}");
}

#[tokio::test]
async fn a_one_factor_session_gets_only_the_second_factor_for_acr_values_and_clients() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    settle_clock(8).await;
    // Signed in with the password alone (no authenticator yet), then one is set up.
    let browser = Browser::new();
    let (_, challenge) = pkce();
    let q = crate::flow::sign_in(
        &app,
        &browser,
        &authorize_url(&app, "web", &challenge, ""),
        "alice",
    )
    .await;
    assert!(q.contains_key("code"));
    let (key, _) = enrol(&app, "alice").await;

    // acr_values asking for two factors: the code page, not the password.
    let (_, challenge) = pkce();
    let step_up = browser
        .get(&authorize_url(
            &app,
            "web",
            &challenge,
            "&acr_values=urn%3Alatchkey%3Aacr%3Amfa",
        ))
        .await;
    assert!(is_code_page(&step_up), "{step_up:?}");
    let done = submit_code(
        &app,
        &browser,
        &step_up,
        "/login/second-factor",
        &code_at(&key, now()),
    )
    .await;
    assert_eq!(done.status, 303, "{done:?}");
    assert!(done.callback().contains_key("code"));

    // The session now has two factors: the same request goes straight through.
    let again = browser
        .get(&authorize_url(
            &app,
            "web",
            &pkce().1,
            "&acr_values=urn%3Alatchkey%3Aacr%3Amfa",
        ))
        .await;
    assert_eq!(again.status, 303, "{again:?}");
    require_two_factors(&app, "web").await;
}
