//! Every way an authorization request or code exchange can be wrong, each on its own.
use crate::flow::{
    Browser, PASSWORD, REDIRECT, authorize_url, exchange, pkce, public_client, sign_in_with_pkce,
    user, web_client,
};
use crate::helpers::{assert_oauth_error, spawn_app, urlencode};

#[tokio::test]
async fn wrong_pkce_verifier_is_invalid_grant() {
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    user(&app, "alice").await;
    let (q, _, _) = sign_in_with_pkce(&app, &Browser::new(), "web", "alice").await;
    let (other_verifier, _) = pkce();
    let resp = exchange(&app, ("web", &secret), &q["code"], &other_verifier).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test]
async fn missing_verifier_is_invalid_grant() {
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    user(&app, "alice").await;
    let (q, _, _) = sign_in_with_pkce(&app, &Browser::new(), "web", "alice").await;
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}",
        urlencode(&q["code"]),
        urlencode(REDIRECT)
    );
    let resp = app.post_form("/token", &body, Some(("web", &secret))).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test]
async fn public_client_without_pkce_gets_invalid_request_at_its_redirect_uri() {
    let app = spawn_app().await;
    public_client(&app, "spa").await;
    let url = format!(
        "{}?response_type=code&client_id=spa&redirect_uri={}&scope=openid&state=s1",
        app.url("/authorize"),
        urlencode(REDIRECT)
    );
    let page = Browser::new().get(&url).await;
    assert_eq!(page.status, 303);
    let q = page.callback();
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "s1");
    assert_eq!(q["iss"], app.address);
}

#[tokio::test]
async fn plain_pkce_method_is_rejected() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    let url = authorize_url(&app, "web", &"a".repeat(43), "")
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let page = Browser::new().get(&url).await;
    assert_eq!(page.callback()["error"], "invalid_request");
}

#[tokio::test]
async fn reused_code_fails_and_revokes_the_tokens_issued_from_it() {
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    user(&app, "alice").await;
    let (q, verifier, _) = sign_in_with_pkce(&app, &Browser::new(), "web", "alice").await;
    let first = exchange(&app, ("web", &secret), &q["code"], &verifier).await;
    assert_eq!(first.status(), 200);
    let tokens: serde_json::Value = first.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        app.introspect(access, ("web", &secret)).await["active"],
        true
    );

    let second = exchange(&app, ("web", &secret), &q["code"], &verifier).await;
    assert_oauth_error(second, 400, "invalid_grant").await;

    assert_eq!(
        app.introspect(access, ("web", &secret)).await["active"],
        false
    );
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(app.introspect(rt, ("web", &secret)).await["active"], false);
    let resp = crate::flow::refresh(&app, ("web", &secret), rt).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test]
async fn code_is_bound_to_its_client_and_redirect_uri() {
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    let other = web_client(&app, "other").await;
    user(&app, "alice").await;
    let (q, verifier, _) = sign_in_with_pkce(&app, &Browser::new(), "web", "alice").await;
    let resp = exchange(&app, ("other", &other), &q["code"], &verifier).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={verifier}",
        urlencode(&q["code"]),
        urlencode("http://127.0.0.1:9/other")
    );
    let resp = app.post_form("/token", &body, Some(("web", &secret))).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test]
async fn expired_code_is_invalid_grant() {
    let app = crate::helpers::spawn_app_with(|s| s.tokens.authorization_code_ttl = 1).await;
    let secret = web_client(&app, "web").await;
    user(&app, "alice").await;
    let (q, verifier, _) = sign_in_with_pkce(&app, &Browser::new(), "web", "alice").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let resp = exchange(&app, ("web", &secret), &q["code"], &verifier).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test]
async fn unregistered_redirect_uri_shows_an_error_page_and_never_redirects() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    let (_, challenge) = pkce();
    let good = authorize_url(&app, "web", &challenge, "");
    for bad in [
        "http://127.0.0.1:9/callbacK",
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/callback?x=1",
        "https://evil.example/callback",
    ] {
        let url = good.replace(&urlencode(REDIRECT), &urlencode(bad));
        let page = Browser::new().get(&url).await;
        assert_eq!(page.status, 400, "{bad}");
        assert!(page.location.is_none(), "must not redirect for {bad}");
        assert!(
            page.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    let unknown = good.replace("client_id=web", "client_id=nobody");
    let page = Browser::new().get(&unknown).await;
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
}

#[tokio::test]
async fn response_type_token_is_unsupported() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    let (_, challenge) = pkce();
    for rt in ["token", "id_token", "code+id_token"] {
        let url = authorize_url(&app, "web", &challenge, "")
            .replace("response_type=code", &format!("response_type={rt}"));
        let page = Browser::new().get(&url).await;
        let q = page.callback();
        assert_eq!(q["error"], "unsupported_response_type", "{rt}");
        assert_eq!(q["state"], "st-123");
    }
}

#[tokio::test]
async fn denied_consent_returns_access_denied() {
    let (app, browser, page) = crate::flow::at_login_page().await;
    let consent = browser.login(&app, &page, "alice", PASSWORD).await;
    let back = browser.consent(&app, &consent, "deny").await;
    let q = back.callback();
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-123");
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused() {
    let (app, browser, page) = crate::flow::at_login_page().await;
    let (_, challenge) = pkce();
    let req = page.input("req").unwrap();
    let no_token = browser
        .post(
            &app.url("/login"),
            &[("req", &req), ("username", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(no_token.status, 403);
    assert!(
        no_token
            .headers
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().contains("latchkey_session"))
    );
    // A token from another browser does not work either.
    let other = Browser::new();
    let theirs = other.get(&authorize_url(&app, "web", &challenge, "")).await;
    let forged = browser
        .post(
            &app.url("/login"),
            &[
                ("csrf_token", &theirs.input("csrf_token").unwrap()),
                ("req", &req),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    let (_, challenge) = pkce();
    let page = Browser::new()
        .get(&authorize_url(&app, "web", &challenge, "&prompt=none"))
        .await;
    let q = page.callback();
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], "st-123");
}

#[tokio::test]
async fn prompt_none_without_consent_is_consent_required() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    web_client(&app, "second").await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let (_, _, challenge) = sign_in_with_pkce(&app, &browser, "web", "alice").await;
    let page = browser
        .get(&authorize_url(&app, "second", &challenge, "&prompt=none"))
        .await;
    assert_eq!(page.callback()["error"], "consent_required");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_generic_message() {
    let (app, browser, page) = crate::flow::at_login_page().await;
    let wrong = browser
        .login(&app, &page, "alice", "not the password")
        .await;
    let unknown = browser
        .login(&app, &page, "mallory", "not the password")
        .await;
    assert!(wrong.is_login() && unknown.is_login());
    assert!(wrong.body.contains("Incorrect username or password."));
    assert!(unknown.body.contains("Incorrect username or password."));
    // And then the right password still works.
    let ok = browser.login(&app, &wrong, "alice", PASSWORD).await;
    assert!(ok.is_consent());
}

#[tokio::test]
async fn bad_scope_duplicate_params_and_unsupported_mode_are_redirected_errors() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    let (_, challenge) = pkce();
    let base = authorize_url(&app, "web", &challenge, "");
    let page = Browser::new()
        .get(&base.replace("scope=openid+profile", "scope=openid+admin"))
        .await;
    assert_eq!(page.callback()["error"], "invalid_scope");
    let page = Browser::new()
        .get(&format!("{base}&response_mode=fragment"))
        .await;
    assert_eq!(page.callback()["error"], "invalid_request");
    let page = Browser::new()
        .get(&format!("{base}&request=eyJhbGciOiJub25lIn0.e30."))
        .await;
    assert_eq!(page.callback()["error"], "request_not_supported");
    let page = Browser::new()
        .get(&format!("{base}&request_uri=urn%3Ax"))
        .await;
    assert_eq!(page.callback()["error"], "request_uri_not_supported");
    let page = Browser::new().get(&format!("{base}&max_age=abc")).await;
    assert_eq!(page.callback()["error"], "invalid_request");
    // A duplicated parameter cannot be attributed safely: error page, no redirect.
    let page = Browser::new().get(&format!("{base}&state=again")).await;
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
}

#[tokio::test]
async fn repeated_wrong_passwords_throttle_the_account_but_not_others() {
    let app = crate::helpers::spawn_app_with(|s| s.login.max_failures = 3).await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    user(&app, "bob").await;
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let mut page = browser
        .get(&authorize_url(&app, "web", &challenge, ""))
        .await;
    for _ in 0..2 {
        page = browser.login(&app, &page, "alice", "wrong password").await;
        assert_eq!(page.status, 200);
    }
    // The third failure locks this address out of the account, and says so.
    let locked = browser.login(&app, &page, "alice", "wrong password").await;
    assert_eq!(locked.status, 429);
    // Now even the right password is refused, with a clear message.
    let refused = browser.login(&app, &page, "Alice", PASSWORD).await;
    assert_eq!(refused.status, 429);
    assert!(refused.body.contains("Too many failed sign-in attempts"));
    // Unknown names are throttled the same way, so this reveals nothing.
    let mut page = browser
        .get(&authorize_url(&app, "web", &challenge, ""))
        .await;
    for _ in 0..2 {
        page = browser.login(&app, &page, "nobody", "wrong password").await;
        assert_eq!(page.status, 200);
    }
    assert_eq!(browser.login(&app, &page, "nobody", "x").await.status, 429);
    assert_eq!(browser.login(&app, &page, "nobody", "x").await.status, 429);
    // Another account is unaffected.
    let ok = browser.login(&app, &page, "bob", PASSWORD).await;
    assert!(ok.is_consent());
}

#[tokio::test]
async fn opening_the_form_endpoints_directly_explains_instead_of_failing() {
    let app = spawn_app().await;
    for path in ["/login", "/consent"] {
        let page = Browser::new().get(&app.url(path)).await;
        assert_eq!(page.status, 400, "{path}");
        assert!(page.body.contains("Go back to the application"), "{path}");
    }
}
