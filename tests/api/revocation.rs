//! RFC 7009: a client revokes its own tokens; revoked access tokens are inactive.
use crate::helpers::{assert_oauth_error, spawn_app, urlencode};

#[tokio::test]
async fn revoked_access_token_is_inactive() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let token = app.client_credentials_token("svc", &secret, "").await;
    let token = token["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.introspect(&token, ("svc", &secret)).await["active"],
        true
    );
    let resp = app.revoke_access_token(&token, ("svc", &secret)).await;
    assert_eq!(resp.status(), 200);

    assert_eq!(
        app.introspect(&token, ("svc", &secret)).await["active"],
        false
    );
    // Revoking twice is fine.
    let resp = app
        .post_form(
            "/revoke",
            &format!("token={}", urlencode(&token)),
            Some(("svc", &secret)),
        )
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn invalid_tokens_are_accepted_silently() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let resp = app
        .post_form(
            "/revoke",
            "token=not-a-token&token_type_hint=access_token",
            Some(("svc", &secret)),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .post_form(
            "/revoke",
            "token=x&token_type_hint=weird",
            Some(("svc", &secret)),
        )
        .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_client_cannot_revoke_another_clients_token() {
    let app = spawn_app().await;
    let a = app.create_service_client("a", &[]).await;
    let b = app.create_service_client("b", &[]).await;
    let token = app.client_credentials_token("a", &a, "").await;
    let token = token["access_token"].as_str().unwrap();
    let resp = app
        .post_form(
            "/revoke",
            &format!("token={}", urlencode(token)),
            Some(("b", &b)),
        )
        .await;
    assert_oauth_error(resp, 400, "unauthorized_client").await;
    assert_eq!(app.introspect(token, ("a", &a)).await["active"], true);
}

#[tokio::test]
async fn revocation_requires_client_authentication_and_a_token() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let resp = app.post_form("/revoke", "token=abc", None).await;
    assert_oauth_error(resp, 401, "invalid_client").await;
    let resp = app.post_form("/revoke", "", Some(("svc", &secret))).await;
    assert_oauth_error(resp, 400, "invalid_request").await;
}
