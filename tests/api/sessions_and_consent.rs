//! Sessions, remembered consent, prompt and max_age, first-party clients, and the pages.
use latchkey::admin::clients::NewClient;

use crate::flow::{
    Browser, PASSWORD, REDIRECT, authorize_url, pkce, sign_in, sign_in_with_pkce, user, web_client,
};
use crate::helpers::spawn_app;

#[tokio::test]
async fn consent_is_remembered_and_asked_again_only_for_new_scopes_or_prompt_consent() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let narrow = authorize_url(&app, "web", &challenge, "").replace("+email+offline_access", "");
    sign_in(&app, &browser, &narrow, "alice").await;

    // Same scopes: straight back with a code.
    let again = browser.get(&narrow).await;
    assert_eq!(again.status, 303);
    assert!(again.callback().contains_key("code"));

    // New scopes: consent for just those.
    let wider = browser
        .get(&authorize_url(&app, "web", &challenge, ""))
        .await;
    assert!(wider.is_consent());
    assert!(wider.body.contains("email"));
    assert!(!wider.body.contains(">profile<"));
    browser.consent(&app, &wider, "allow").await;

    // prompt=consent asks again even though everything is approved.
    let forced = browser
        .get(&authorize_url(&app, "web", &challenge, "&prompt=consent"))
        .await;
    assert!(forced.is_consent());
    let back = browser.consent(&app, &forced, "allow").await;
    assert!(back.callback().contains_key("code"));
}

#[tokio::test]
async fn first_party_clients_skip_consent() {
    let app = spawn_app().await;
    app.create_client(NewClient {
        id: "portal".into(),
        redirect_uris: vec![REDIRECT.into()],
        first_party: true,
        ..Default::default()
    })
    .await;
    user(&app, "alice").await;
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let page = browser
        .get(&authorize_url(&app, "portal", &challenge, ""))
        .await;
    let back = browser.login(&app, &page, "alice", PASSWORD).await;
    assert_eq!(back.status, 303);
    assert!(back.callback().contains_key("code"));
}

#[tokio::test]
async fn prompt_login_and_max_age_zero_ask_for_the_password_again() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let (_, _, challenge) = sign_in_with_pkce(&app, &browser, "web", "alice").await;
    for extra in ["&prompt=login", "&max_age=0"] {
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let page = browser
            .get(&authorize_url(&app, "web", &challenge, extra))
            .await;
        assert!(page.is_login(), "{extra}");
        let back = browser.login(&app, &page, "alice", PASSWORD).await;
        assert_eq!(back.status, 303, "{extra}: {back:?}");
        assert!(back.callback().contains_key("code"));
    }
}

#[tokio::test]
async fn login_sets_a_new_http_only_lax_session_cookie() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let page = browser
        .get(&authorize_url(&app, "web", &challenge, "&login_hint=alice"))
        .await;
    assert_eq!(page.input("username").as_deref(), Some("alice"));
    let after = browser.login(&app, &page, "alice", PASSWORD).await;
    let cookie = after
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("latchkey_session="))
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "http issuer");
}

#[tokio::test]
async fn pages_escape_client_names_and_carry_security_headers() {
    let app = spawn_app().await;
    app.create_client(NewClient {
        id: "evil".into(),
        name: Some("<script>alert(1)</script>".into()),
        redirect_uris: vec![REDIRECT.into()],
        ..Default::default()
    })
    .await;
    let (_, challenge) = pkce();
    let page = Browser::new()
        .get(&authorize_url(&app, "evil", &challenge, ""))
        .await;
    assert!(page.is_login());
    assert!(!page.body.contains("<script>alert(1)</script>"));
    assert!(page.body.contains("&lt;script&gt;") || page.body.contains("&#60;script&#62;"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9"),
        "{csp}"
    );
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert!(page.headers.contains_key("referrer-policy"));
    let css = app
        .http
        .get(app.url("/static/style.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

#[tokio::test]
async fn userinfo_requires_a_valid_openid_token() {
    let app = spawn_app().await;
    let resp = app.http.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let resp = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let secret = app.create_service_client("svc", &[]).await;
    let token = app.client_credentials_token("svc", &secret, "").await;
    let resp = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}

#[tokio::test]
async fn signing_out_ends_the_session_and_needs_a_form_post() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let (_, _, challenge) = sign_in_with_pkce(&app, &browser, "web", "alice").await;

    let confirm = browser.get(&app.url("/logout")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("alice Example"));
    // Without the form's CSRF token nothing happens.
    assert_eq!(browser.post(&app.url("/logout"), &[]).await.status, 403);
    let silent = browser
        .get(&authorize_url(&app, "web", &challenge, "&prompt=none"))
        .await;
    assert!(silent.callback().contains_key("code"));

    let csrf = confirm.input("csrf_token").unwrap();
    let done = browser
        .post(&app.url("/logout"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(done.status, 200);
    assert!(done.body.contains("You have signed out."));
    let after = browser
        .get(&authorize_url(&app, "web", &challenge, "&prompt=none"))
        .await;
    assert_eq!(after.callback()["error"], "login_required");
}

#[tokio::test]
async fn a_new_password_ends_every_session_of_the_user() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let (_, _, challenge) = sign_in_with_pkce(&app, &browser, "web", "alice").await;
    latchkey::admin::users::set_password(&app.store, "alice", "a brand new password")
        .await
        .unwrap();
    let after = browser
        .get(&authorize_url(&app, "web", &challenge, "&prompt=none"))
        .await;
    assert_eq!(after.callback()["error"], "login_required");
}
