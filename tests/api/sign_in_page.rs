//! `/signin?return_to=...`: the login page without an authorization request. After signing
//! in the browser goes to `return_to` when it is a path on this server or an address on a
//! domain of `forward_auth.allowed_redirect_domains`; anything else gets an error page and
//! never a redirect.
use crate::flow::{Browser, PASSWORD, user};
use crate::helpers::{spawn_app, spawn_app_with, urlencode};

#[tokio::test]
async fn signing_in_returns_to_a_path_on_this_server() {
    // Arrange
    let app = spawn_app().await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let login = browser
        .get(&app.url(&format!(
            "/signin?return_to={}",
            urlencode("/account?tab=apps")
        )))
        .await;
    assert!(login.is_login(), "{login:?}");
    assert_eq!(app.count_rows("sessions").await, 0);

    // Act
    let done = browser.login(&app, &login, "alice", PASSWORD).await;

    // Assert: a session, and back where the person wanted to go.
    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(
        done.location.as_deref(),
        Some(app.url("/account?tab=apps").as_str())
    );
    assert_eq!(app.count_rows("sessions").await, 1);
    // Signed in already: straight back, no form.
    let again = browser.get(&app.url("/signin?return_to=/account")).await;
    assert_eq!(again.status, 303);
    assert_eq!(
        again.location.as_deref(),
        Some(app.url("/account").as_str())
    );
}

#[tokio::test]
async fn signing_in_returns_to_an_allowed_domain() {
    let app = spawn_app_with(|s| {
        s.forward_auth.allowed_redirect_domains = vec![".example.com".into()];
    })
    .await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let target = "https://app.example.com/reports?q=1";
    let login = browser
        .get(&app.url(&format!("/signin?return_to={}", urlencode(target))))
        .await;
    assert!(login.is_login(), "{login:?}");
    // The redirect after the form is allowed by the page's form-action.
    let csp = login.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example.com"),
        "{csp}"
    );

    let done = browser.login(&app, &login, "alice", PASSWORD).await;

    assert_eq!(done.status, 303, "{done:?}");
    assert_eq!(done.location.as_deref(), Some(target));
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_and_stores_no_session() {
    let app = spawn_app().await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let login = browser.get(&app.url("/signin")).await;
    assert!(login.is_login(), "{login:?}");

    let again = browser.login(&app, &login, "alice", "wrong password").await;

    assert!(again.is_login(), "{again:?}");
    assert!(again.location.is_none());
    assert_eq!(app.count_rows("sessions").await, 0);
    assert_eq!(app.count_rows("login_failures").await, 2);
    // The right one then goes to the account page, the default destination.
    let done = browser.login(&app, &again, "alice", PASSWORD).await;
    assert_eq!(done.location.as_deref(), Some(app.url("/account").as_str()));
}

#[tokio::test]
async fn foreign_return_addresses_get_an_error_page_and_never_a_redirect() {
    let app = spawn_app_with(|s| {
        s.forward_auth.allowed_redirect_domains = vec![".example.com".into()];
    })
    .await;
    user(&app, "alice").await;
    let before = app.stored().await;
    for bad in [
        "https://evil.test/",
        "https://example.com.evil.test/",
        "https://evilexample.com/",
        "//evil.test/x",
        "/\\evil.test",
        "javascript:alert(1)",
        "data:text/html,hi",
        "https://user@app.example.com/",
        "ftp://app.example.com/",
        "account",
        "/account\r\nSet-Cookie: x=1",
    ] {
        let browser = Browser::new();
        let page = browser
            .get(&app.url(&format!("/signin?return_to={}", urlencode(bad))))
            .await;
        assert_eq!(page.status, 400, "{bad}: {page:?}");
        assert!(page.location.is_none(), "{bad}");
        assert!(!page.is_login(), "{bad}");
        assert!(page.body.contains("return_to"), "{bad}: {}", page.body);
    }
    assert_eq!(app.stored().await, before);
}

#[tokio::test]
async fn a_return_ticket_cannot_be_used_as_a_consent_form() {
    let app = spawn_app().await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let login = browser.get(&app.url("/signin")).await;
    let done = browser.login(&app, &login, "alice", PASSWORD).await;
    assert_eq!(done.status, 303);
    let before = app.stored().await;

    // The sealed return ticket posted to /consent.
    let csrf = login.input("csrf_token").unwrap();
    let req = login.input("req").unwrap();
    let page = browser
        .post(
            &app.url("/consent"),
            &[("csrf_token", &csrf), ("req", &req), ("decision", "allow")],
        )
        .await;

    assert_eq!(page.status, 400, "{page:?}");
    assert!(page.location.is_none());
    assert_eq!(app.stored().await, before);
}
