//! `/account/two-factor` after enrolment: new recovery codes replace the old ones; removal
//! needs a current code or the password, and a wrong proof changes nothing.
use super::{code_at, enrol, is_code_page, now, recovery_codes_on, settle_clock, submit_code};
use crate::flow::{Browser, PASSWORD, authorize_url, pkce, user, web_client};
use crate::helpers::spawn_app;

#[tokio::test]
async fn new_recovery_codes_replace_the_old_and_removal_needs_proof() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    settle_clock(8).await;
    let (key, old_codes) = enrol(&app, "alice").await;

    // The settings page, reached through a sign-in with a code.
    let browser = Browser::new();
    let login = browser
        .get(&app.url("/signin?return_to=/account/two-factor"))
        .await;
    let code_page = browser.login(&app, &login, "alice", PASSWORD).await;
    assert!(is_code_page(&code_page), "{code_page:?}");
    let back = submit_code(
        &app,
        &browser,
        &code_page,
        "/login/second-factor",
        &code_at(&key, now()),
    )
    .await;
    assert_eq!(back.status, 303, "{back:?}");
    let settings = browser.get(&app.url("/account/two-factor")).await;
    assert!(
        settings.body.contains("id=\"recovery-left\">10<"),
        "{settings:?}"
    );

    let csrf = settings.input("csrf_token").unwrap();
    let fresh = browser
        .post(
            &app.url("/account/two-factor/recovery-codes"),
            &[("csrf_token", &csrf)],
        )
        .await;
    let new_codes = recovery_codes_on(&fresh);
    assert_eq!(new_codes.len(), 10);
    assert!(new_codes.iter().all(|c| !old_codes.contains(c)));
    assert_eq!(
        app.count_rows("recovery_codes").await,
        10,
        "the old ones are gone"
    );

    // A wrong proof: nothing removed.
    let wrong = browser
        .post(
            &app.url("/account/two-factor/remove"),
            &[("csrf_token", &csrf), ("proof", "not it")],
        )
        .await;
    assert_eq!(wrong.status, 200);
    assert!(wrong.body.contains("id=\"remove-error\""), "{wrong:?}");
    assert_eq!(app.count_rows("totp_authenticators").await, 1);
    // Without a CSRF token: refused.
    let forged = browser
        .post(
            &app.url("/account/two-factor/remove"),
            &[("proof", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(app.count_rows("totp_authenticators").await, 1);

    // The password removes the authenticator and its codes; the next sign-in is one step.
    let removed = browser
        .post(
            &app.url("/account/two-factor/remove"),
            &[("csrf_token", &csrf), ("proof", PASSWORD)],
        )
        .await;
    assert_eq!(removed.status, 303, "{removed:?}");
    assert_eq!(app.count_rows("totp_authenticators").await, 0);
    assert_eq!(app.count_rows("recovery_codes").await, 0);
    let other = Browser::new();
    let login = other.get(&authorize_url(&app, "web", &pkce().1, "")).await;
    let next = other.login(&app, &login, "alice", PASSWORD).await;
    assert!(next.is_consent(), "{next:?}");
}

#[tokio::test]
async fn max_age_asks_for_the_password_and_the_code_again() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    settle_clock(8).await;
    let (key, _) = enrol(&app, "alice").await;
    let browser = account_browser_with_code(&app, &key).await;

    // max_age=0 a second later: the session is too old, so the password first, then the
    // code.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let login = browser
        .get(&authorize_url(&app, "web", &pkce().1, "&max_age=0"))
        .await;
    assert!(login.is_login(), "{login:?}");
    let page = browser.login(&app, &login, "alice", PASSWORD).await;
    assert!(is_code_page(&page), "{page:?}");
    let done = submit_code(
        &app,
        &browser,
        &page,
        "/login/second-factor",
        &code_at(&key, now() + 30),
    )
    .await;
    assert!(done.is_consent() || done.status == 303, "{done:?}");
}

/// A browser signed in with the password and the current code.
async fn account_browser_with_code(app: &crate::helpers::TestApp, key: &[u8]) -> Browser {
    let browser = Browser::new();
    let login = browser.get(&app.url("/signin")).await;
    let page = browser.login(app, &login, "alice", PASSWORD).await;
    assert!(is_code_page(&page), "{page:?}");
    let back = submit_code(
        app,
        &browser,
        &page,
        "/login/second-factor",
        &code_at(key, now()),
    )
    .await;
    assert_eq!(back.status, 303, "{back:?}");
    browser
}
