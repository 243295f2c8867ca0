//! Refresh tokens rotate on every use; a reuse inside the grace window succeeds, after it
//! the whole family is revoked; scope can be narrowed, never widened.
use crate::flow::{
    Browser, authorize_url, exchange, pkce, refresh, sign_in, sign_in_with_pkce, user, web_client,
};
use crate::helpers::{TestApp, assert_oauth_error, spawn_app, spawn_app_with};

async fn tokens(app: &TestApp, secret: &str) -> serde_json::Value {
    user(app, "alice").await;
    let (q, verifier, _) = sign_in_with_pkce(app, &Browser::new(), "web", "alice").await;
    let resp = exchange(app, ("web", secret), &q["code"], &verifier).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_family() {
    let app = spawn_app_with(|s| s.tokens.refresh_token_grace = 1).await;
    let secret = web_client(&app, "web").await;
    let first = tokens(&app, &secret).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let second: serde_json::Value = refresh(&app, ("web", &secret), rt1)
        .await
        .json()
        .await
        .unwrap();
    let rt2 = second["refresh_token"].as_str().unwrap();
    let at2 = second["access_token"].as_str().unwrap();

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let replay = refresh(&app, ("web", &secret), rt1).await;
    assert_oauth_error(replay, 400, "invalid_grant").await;

    // The whole family is gone: the newest refresh token and its access token too.
    assert_oauth_error(
        refresh(&app, ("web", &secret), rt2).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_eq!(app.introspect(at2, ("web", &secret)).await["active"], false);
}

#[tokio::test]
async fn concurrent_refreshes_inside_the_grace_window_both_succeed() {
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    let first = tokens(&app, &secret).await;
    let rt = first["refresh_token"].as_str().unwrap();
    let (a, b) = tokio::join!(
        refresh(&app, ("web", &secret), rt),
        refresh(&app, ("web", &secret), rt)
    );
    assert_eq!(a.status(), 200);
    assert_eq!(b.status(), 200);
    let a: serde_json::Value = a.json().await.unwrap();
    let b: serde_json::Value = b.json().await.unwrap();
    assert_ne!(a["refresh_token"], b["refresh_token"]);
    // Both new tokens work.
    assert_eq!(
        refresh(&app, ("web", &secret), a["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert_eq!(
        refresh(&app, ("web", &secret), b["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn scope_can_be_narrowed_but_not_widened() {
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    let first = tokens(&app, &secret).await;
    let rt = first["refresh_token"].as_str().unwrap();
    let body = format!(
        "grant_type=refresh_token&refresh_token={}&scope=openid",
        crate::helpers::urlencode(rt)
    );
    let resp = app.post_form("/token", &body, Some(("web", &secret))).await;
    assert_eq!(resp.status(), 200);
    let narrowed: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(narrowed["scope"], "openid");
    let rt2 = narrowed["refresh_token"].as_str().unwrap();
    let body = format!(
        "grant_type=refresh_token&refresh_token={}&scope=openid+admin",
        crate::helpers::urlencode(rt2)
    );
    let resp = app.post_form("/token", &body, Some(("web", &secret))).await;
    assert_oauth_error(resp, 400, "invalid_scope").await;
}

#[tokio::test]
async fn refresh_token_of_another_client_or_revoked_is_invalid_grant() {
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    let other = web_client(&app, "other").await;
    let first = tokens(&app, &secret).await;
    let rt = first["refresh_token"].as_str().unwrap();
    assert_oauth_error(
        refresh(&app, ("other", &other), rt).await,
        400,
        "invalid_grant",
    )
    .await;
    let resp = app
        .post_form(
            "/revoke",
            &format!(
                "token={}&token_type_hint=refresh_token",
                crate::helpers::urlencode(rt)
            ),
            Some(("web", &secret)),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_oauth_error(
        refresh(&app, ("web", &secret), rt).await,
        400,
        "invalid_grant",
    )
    .await;
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(app.introspect(at, ("web", &secret)).await["active"], false);
}

#[tokio::test]
async fn no_offline_access_means_no_refresh_token() {
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    user(&app, "alice").await;
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, "web", &challenge, "").replace("+offline_access", "");
    let q = sign_in(&app, &Browser::new(), &url, "alice").await;
    let t: serde_json::Value = exchange(&app, ("web", &secret), &q["code"], &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert!(t["refresh_token"].is_null());
    assert!(t["id_token"].is_string());
}

#[tokio::test]
async fn a_client_may_be_configured_to_get_refresh_tokens_without_offline_access() {
    let app = spawn_app().await;
    let secret = app
        .create_client(latchkey::admin::clients::NewClient {
            id: "web".into(),
            redirect_uris: vec![crate::flow::REDIRECT.into()],
            always_issue_refresh_token: true,
            ..Default::default()
        })
        .await
        .unwrap();
    user(&app, "alice").await;
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, "web", &challenge, "").replace("+offline_access", "");
    let q = sign_in(&app, &Browser::new(), &url, "alice").await;
    let t: serde_json::Value = exchange(&app, ("web", &secret), &q["code"], &verifier)
        .await
        .json()
        .await
        .unwrap();
    let rt = t["refresh_token"]
        .as_str()
        .expect("refresh token by client policy");
    assert_eq!(refresh(&app, ("web", &secret), rt).await.status(), 200);
}

#[tokio::test]
async fn only_the_owning_client_sees_a_refresh_token_at_introspection() {
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    let rs = app.create_service_client("resource-server", &[]).await;
    let first = tokens(&app, &secret).await;
    let rt = first["refresh_token"].as_str().unwrap();
    let own = app.introspect(rt, ("web", &secret)).await;
    assert_eq!(own["active"], true);
    assert_eq!(own["token_type"], "refresh_token");
    assert_eq!(
        app.introspect(rt, ("resource-server", &rs)).await["active"],
        false
    );
}
