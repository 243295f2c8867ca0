//! Hostile bytes in every field: NUL, invalid UTF-8, oversized values, SQL and template
//! meta-characters. Each is refused with the RFC error (or a human error page) or treated as
//! the inert string it is; nothing is stored, nothing panics, nothing is interpreted.
use crate::flow::{Browser, PASSWORD, REDIRECT, authorize_url, pkce, user, web_client};
use crate::helpers::{assert_oauth_error, spawn_app, urlencode};

const META: &[&str] = &[
    "' OR '1'='1",
    "alice'; DROP TABLE users; --",
    "\" OR 1=1 --",
    "{{7*7}}",
    "{% raw %}{{ 7*7 }}{% endraw %}",
    "${7*7}",
    "<script>alert(1)</script>",
    "%00",
    "\\x00",
];

#[tokio::test]
async fn meta_characters_at_the_token_endpoint_are_inert() {
    // Many failed authentications from one address: the guessing throttle is not the subject.
    let app = crate::helpers::spawn_app_with(|s| {
        s.client_auth.delay_after = 1000;
        s.client_auth.max_failures = 1000;
    })
    .await;
    let secret = app.create_service_client("svc", &["a"]).await;
    let before = app.stored().await;
    for meta in META {
        let m = urlencode(meta);
        // As a client id (Basic and post), a secret, a scope, a grant type, a resource.
        let resp = app
            .post_form("/token", "grant_type=client_credentials", Some((meta, "x")))
            .await;
        assert_oauth_error(resp, 401, "invalid_client").await;
        let resp = app
            .post_form(
                "/token",
                &format!("grant_type=client_credentials&client_id={m}&client_secret={m}"),
                None,
            )
            .await;
        assert_oauth_error(resp, 401, "invalid_client").await;
        let resp = app
            .post_form(
                "/token",
                "grant_type=client_credentials",
                Some(("svc", meta)),
            )
            .await;
        assert_oauth_error(resp, 401, "invalid_client").await;
        let resp = app
            .post_form(
                "/token",
                &format!("grant_type=client_credentials&scope={m}"),
                Some(("svc", &secret)),
            )
            .await;
        assert_oauth_error(resp, 400, "invalid_scope").await;
        let resp = app
            .post_form("/token", &format!("grant_type={m}"), Some(("svc", &secret)))
            .await;
        assert_oauth_error(resp, 400, "unsupported_grant_type").await;
        let resp = app
            .post_form(
                "/token",
                &format!("grant_type=client_credentials&resource={m}"),
                Some(("svc", &secret)),
            )
            .await;
        assert_oauth_error(resp, 400, "invalid_target").await;
        // Introspection and revocation of such a "token": inactive, and nothing happens.
        let info = app.introspect(meta, ("svc", &secret)).await;
        assert_eq!(info, serde_json::json!({"active": false}));
        let resp = app
            .post_form("/revoke", &format!("token={m}"), Some(("svc", &secret)))
            .await;
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(app.stored().await, before);
    // The tables are all still there and the service still works.
    app.client_credentials_token("svc", &secret, "").await;
}

#[tokio::test]
async fn nul_bytes_and_invalid_utf8_are_invalid_request() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &["a"]).await;
    web_client(&app, "web").await;
    let before = app.stored().await;
    for body in [
        "grant_type=client_credentials%00",
        "grant_type=client_credentials&scope=a%FF",
        "grant_type=client_credentials&scope=%C0%AF",
        "grant_type=client_credentials&sc%00ope=a",
    ] {
        let resp = app.post_form("/token", body, Some(("svc", &secret))).await;
        let json = assert_oauth_error(resp, 400, "invalid_request").await;
        assert!(json["error_description"].is_string(), "{body}");
    }
    // Raw invalid UTF-8 bytes in the body, not percent-encoded.
    let resp = app
        .http
        .post(app.url("/token"))
        .basic_auth("svc", Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"grant_type=client_credentials&scope=\xff\xfe".to_vec())
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
    // At the authorization endpoint, before the client is known: an error page.
    let (_, challenge) = pkce();
    for extra in ["&state=%FF", "&nonce=a%00b", "&login_hint=%C3%28"] {
        let page = Browser::new()
            .get(&authorize_url(&app, "web", &challenge, extra))
            .await;
        assert_eq!(page.status, 400, "{extra}");
        assert!(page.location.is_none(), "{extra}");
    }
    assert_eq!(app.stored().await, before);
}

#[tokio::test]
async fn meta_characters_in_the_sign_in_pages_are_escaped_and_not_evaluated() {
    // Many wrong passwords from one address: the guessing throttle is not the subject here.
    let app = crate::helpers::spawn_app_with(|s| {
        s.login.delay_after = 1000;
        s.login.max_failures = 1000;
    })
    .await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let before = app.stored().await;
    for meta in META {
        let m = urlencode(meta);
        let page = browser
            .get(&authorize_url(
                &app,
                "web",
                &challenge,
                &format!("&login_hint={m}"),
            ))
            .await;
        assert!(page.is_login(), "{meta}");
        assert!(!page.body.contains("<script>alert"), "{meta}");
        assert!(
            !page.body.contains(">49<") && !page.body.contains("\"49\""),
            "{meta}"
        );
        for (username, password) in [(*meta, PASSWORD), ("alice", *meta)] {
            let refused = browser.login(&app, &page, username, password).await;
            assert_eq!(refused.status, 200, "{meta}");
            assert!(
                refused.body.contains("Incorrect username or password"),
                "{meta}"
            );
            assert!(!refused.body.contains("<script>alert"), "{meta}");
        }
    }
    // A state full of meta-characters travels back to the client exactly, encoded.
    let state = META.join("|");
    let page = browser
        .get(&format!(
            "{}&prompt=none",
            authorize_url(&app, "web", &challenge, "")
                .replace("state=st-123", &format!("state={}", urlencode(&state)))
        ))
        .await;
    let location = page.location.clone().unwrap();
    assert!(location.starts_with(&format!("{REDIRECT}?")));
    assert_eq!(page.callback()["state"], state);
    assert_eq!(app.stored().await, before);
}

#[tokio::test]
async fn oversized_fields_on_the_pages_are_refused() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let before = app.stored().await;
    let huge = "a".repeat(5000);
    let page = browser
        .get(&authorize_url(
            &app,
            "web",
            &challenge,
            &format!("&nonce={huge}"),
        ))
        .await;
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
    let page = browser
        .get(&authorize_url(&app, "web", &challenge, ""))
        .await;
    let refused = browser.login(&app, &page, &huge, PASSWORD).await;
    assert_eq!(refused.status, 400);
    let body = format!("username={}", "a".repeat(100_000));
    let resp = app
        .http
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(resp.status().as_u16(), 400 | 413),
        "{}",
        resp.status()
    );
    assert_eq!(app.stored().await, before);
}
