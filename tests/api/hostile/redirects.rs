//! Open-redirect attempts and tampering with the authorization request (RFC 9700 sections
//! 4.1 and 4.11; RFC 6749 section 3.1.2.4): an unregistered redirect URI never gets a
//! redirect, whatever its disguise, even for a person who is signed in and has consented.
use crate::flow::{Browser, REDIRECT, authorize_url, pkce, sign_in_with_pkce, user, web_client};
use crate::helpers::{TestApp, spawn_app, urlencode};

/// A signed-in browser that has already approved `web`: a valid request would now be
/// answered with a code at once, so any request that is not must be refused.
async fn signed_in(app: &TestApp) -> Browser {
    web_client(app, "web").await;
    user(app, "alice").await;
    let browser = Browser::new();
    sign_in_with_pkce(app, &browser, "web", "alice").await;
    browser
}

#[tokio::test]
async fn disguised_redirect_uris_get_an_error_page_and_no_code() {
    let app = spawn_app().await;
    let browser = signed_in(&app).await;
    let (_, challenge) = pkce();
    let good = authorize_url(&app, "web", &challenge, "");
    let before = app.stored().await;
    for bad in [
        "http://127.0.0.1:9@evil.example/callback",
        "http://evil.example@127.0.0.1:9/callback",
        "http://127.0.0.1:9/callback@evil.example",
        "http://127.0.0.1:9.evil.example/callback",
        "http://127.0.0.1:9/callback/../evil",
        "http://127.0.0.1:9/callback/..%2Fevil",
        "http://127.0.0.1:9/%63allback",
        "http://127.0.0.1:9/callback%00",
        "http://127.0.0.1:9/callback%0d%0aLocation:%20https://evil.example",
        "http://127.0.0.1:9/callback#https://evil.example",
        "http://127.0.0.1:9/callback?next=https://evil.example",
        "http://127.0.0.1:09/callback",
        "HTTP://127.0.0.1:9/callback",
        "http://127.0.0.1:9/callback ",
        "//evil.example/callback",
        "/callback",
        "javascript:alert(document.cookie)",
        "javascript://127.0.0.1:9/callback%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "https://evil.example/callback",
    ] {
        let url = good.replace(&urlencode(REDIRECT), &urlencode(bad));
        let page = browser.get(&url).await;
        assert_eq!(page.status, 400, "{bad}");
        assert!(page.location.is_none(), "redirected for {bad}");
        assert!(!page.body.contains("evil.example"), "echoed {bad}");
    }
    // The same URI, percent-encoded once more in the query, is a different string too.
    let double = good.replace(&urlencode(REDIRECT), &urlencode(&urlencode(REDIRECT)));
    assert_eq!(browser.get(&double).await.status, 400);
    assert_eq!(app.stored().await, before);
    // The genuine request still works for this browser.
    let ok = browser.get(&good).await;
    assert_eq!(ok.status, 303);
    assert!(ok.location.unwrap().starts_with(REDIRECT));
}

#[tokio::test]
async fn repeated_client_id_or_redirect_uri_is_refused_without_a_redirect() {
    let app = spawn_app().await;
    let browser = signed_in(&app).await;
    let (_, challenge) = pkce();
    let good = authorize_url(&app, "web", &challenge, "");
    let before = app.stored().await;
    for extra in [
        format!("&redirect_uri={}", urlencode("https://evil.example/cb")),
        format!("&redirect_uri={}", urlencode(REDIRECT)),
        "&client_id=web".to_owned(),
        "&client_id=other".to_owned(),
        "&response_type=code".to_owned(),
    ] {
        let page = browser.get(&format!("{good}{extra}")).await;
        assert_eq!(page.status, 400, "{extra}");
        assert!(page.location.is_none(), "{extra}");
    }
    assert_eq!(app.stored().await, before);
}

#[tokio::test]
async fn response_type_and_mode_tampering_is_an_error_at_the_client_with_iss() {
    let app = spawn_app().await;
    let browser = signed_in(&app).await;
    let (_, challenge) = pkce();
    let good = authorize_url(&app, "web", &challenge, "");
    let before = app.stored().await;
    let cases = [
        (
            "response_type=code",
            "response_type=code+token",
            "unsupported_response_type",
        ),
        (
            "response_type=code",
            "response_type=CODE",
            "unsupported_response_type",
        ),
        (
            "response_type=code",
            "response_type=none",
            "unsupported_response_type",
        ),
        (
            "&state",
            "&response_mode=form_post&state",
            "invalid_request",
        ),
        ("&state", "&response_mode=fragment&state", "invalid_request"),
        (
            "&state",
            "&response_mode=web_message&state",
            "invalid_request",
        ),
    ];
    for (from, to, error) in cases {
        let page = browser.get(&good.replacen(from, to, 1)).await;
        assert_eq!(page.status, 303, "{to}");
        let location = page.location.clone().unwrap();
        assert!(
            location.starts_with(&format!("{REDIRECT}?")),
            "{to}: {location}"
        );
        let q = page.callback();
        assert_eq!(q["error"], error, "{to}");
        // RFC 9207: the error names its issuer too, against mix-up.
        assert_eq!(q["iss"], app.address, "{to}");
        assert_eq!(q["state"], "st-123");
        assert!(!q.contains_key("code"));
    }
    assert_eq!(app.stored().await, before);
}

#[tokio::test]
async fn scope_injection_and_unknown_scopes_issue_nothing() {
    let app = spawn_app().await;
    let browser = signed_in(&app).await;
    let (_, challenge) = pkce();
    let good = authorize_url(&app, "web", &challenge, "");
    let before = app.stored().await;
    for scope in [
        "openid+admin",
        "openid+profile%0aadmin",
        "openid%22+admin",
        "openid+%27%20OR%201%3D1--",
        "openid\u{2003}admin",
    ] {
        let url = good.replacen(
            "scope=openid+profile+email+offline_access",
            &format!("scope={scope}"),
            1,
        );
        let page = browser.get(&url).await;
        let q = page.callback();
        assert_eq!(
            q.get("error").map(String::as_str),
            Some("invalid_scope"),
            "{scope}: {page:?}"
        );
        assert!(!q.contains_key("code"), "{scope}");
    }
    assert_eq!(app.stored().await, before);
}

/// A native app listens on a port it learns only at run time: for a loopback registration
/// the port may differ (RFC 8252 section 7.3), nothing else may, and the token request must
/// name the port the code was sent to.
#[tokio::test]
async fn loopback_redirect_uri_may_use_another_port_and_only_the_port() {
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    user(&app, "alice").await;
    let browser = Browser::new();
    sign_in_with_pkce(&app, &browser, "web", "alice").await;
    let (verifier, challenge) = pkce();
    let good = authorize_url(&app, "web", &challenge, "");
    let native = "http://127.0.0.1:53117/callback";
    let url = good.replace(&urlencode(REDIRECT), &urlencode(native));
    let page = browser.get(&url).await;
    assert_eq!(page.status, 303, "{page:?}");
    let code = page.callback_to(native)["code"].clone();

    // The registered port in the token request is not the one the code was sent to.
    let wrong = crate::flow::exchange(&app, ("web", &secret), &code, &verifier).await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(
        wrong.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    // A fresh code, exchanged with the URI it was sent to.
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, "web", &challenge, "")
        .replace(&urlencode(REDIRECT), &urlencode(native));
    let code = browser.get(&url).await.callback_to(native)["code"].clone();
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={verifier}",
        urlencode(&code),
        urlencode(native)
    );
    let ok = app.post_form("/token", &body, Some(("web", &secret))).await;
    assert_eq!(ok.status(), 200);

    // Anything else that differs is still refused without a redirect.
    for bad in [
        "http://localhost:53117/callback",
        "http://127.0.0.1:53117/callback/",
        "http://127.0.0.1:053117/callback",
        "https://127.0.0.1:53117/callback",
    ] {
        let url = good.replace(&urlencode(REDIRECT), &urlencode(bad));
        let page = browser.get(&url).await;
        assert_eq!(page.status, 400, "{bad}");
        assert!(page.location.is_none(), "{bad}");
    }
}
