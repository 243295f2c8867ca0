//! RFC 7662: authenticated clients learn whether a token is live.
use latchkey::admin::clients::NewClient;
use oauth2::basic::{BasicClient, BasicTokenIntrospectionResponse};
use oauth2::{
    AccessToken, ClientId, ClientSecret, IntrospectionUrl, TokenIntrospectionResponse, TokenUrl,
};

use crate::helpers::{TestApp, assert_oauth_error, spawn_app, spawn_app_with, urlencode};

/// Introspects `token` as the client `resource-server`, through the oauth2 crate, as a
/// resource server would.
async fn introspect_via_oauth2(
    app: &TestApp,
    rs_secret: &str,
    token: &str,
) -> BasicTokenIntrospectionResponse {
    let rs = BasicClient::new(ClientId::new("resource-server".into()))
        .set_client_secret(ClientSecret::new(rs_secret.into()))
        .set_token_uri(TokenUrl::new(app.url("/token")).unwrap())
        .set_introspection_url(IntrospectionUrl::new(app.url("/introspect")).unwrap());
    let http = oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    rs.introspect(&AccessToken::new(token.into()))
        .request_async(&http)
        .await
        .expect("introspection")
}

#[tokio::test]
async fn live_token_is_active_with_its_claims_via_the_oauth2_client() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &["read"]).await;
    let rs_secret = app.create_service_client("resource-server", &[]).await;
    let token = app.client_credentials_token("svc", &secret, "").await;
    let token = token["access_token"].as_str().unwrap();

    let info = introspect_via_oauth2(&app, &rs_secret, token).await;

    assert!(info.active());
    assert_eq!(info.client_id().unwrap().as_str(), "svc");
    assert_eq!(info.sub(), Some("svc"));
    assert_eq!(info.scopes().unwrap()[0].as_str(), "read");
    assert_eq!(info.iss(), Some(app.address.as_str()));
    assert!(info.exp().is_some());
}

#[tokio::test]
async fn unknown_and_malformed_tokens_are_inactive() {
    let app = spawn_app().await;
    let secret = app.create_service_client("rs", &[]).await;
    let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
    for token in ["garbage", "a.b.c", forged, &"x".repeat(3000)] {
        let info = app.introspect(token, ("rs", &secret)).await;
        assert_eq!(info, serde_json::json!({"active": false}), "{token}");
    }
}

#[tokio::test]
async fn tampered_token_is_inactive() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &["read"]).await;
    let token = app.client_credentials_token("svc", &secret, "").await;
    let token = token["access_token"].as_str().unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let claims = latchkey::crypto::b64url_decode(&parts[1]).unwrap();
    let tampered = String::from_utf8(claims).unwrap().replace("read", "admin");
    parts[1] = latchkey::crypto::b64url(tampered.as_bytes());
    let info = app.introspect(&parts.join("."), ("svc", &secret)).await;
    assert_eq!(info["active"], false);
}

#[tokio::test]
async fn expired_token_is_inactive() {
    let app = spawn_app_with(|s| s.tokens.access_token_ttl = 1).await;
    let secret = app.create_service_client("svc", &[]).await;
    let token = app.client_credentials_token("svc", &secret, "").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let info = app
        .introspect(token["access_token"].as_str().unwrap(), ("svc", &secret))
        .await;
    assert_eq!(info["active"], false);
}

#[tokio::test]
async fn tokens_of_a_deleted_client_are_inactive() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let rs = app.create_service_client("rs", &[]).await;
    let token = app.client_credentials_token("svc", &secret, "").await;
    latchkey::admin::clients::delete(&app.store, "svc")
        .await
        .unwrap();
    let info = app
        .introspect(token["access_token"].as_str().unwrap(), ("rs", &rs))
        .await;
    assert_eq!(info["active"], false);
}

#[tokio::test]
async fn introspection_requires_client_authentication() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let token = app.client_credentials_token("svc", &secret, "").await;
    let body = format!(
        "token={}",
        urlencode(token["access_token"].as_str().unwrap())
    );
    let resp = app.post_form("/introspect", &body, None).await;
    assert_oauth_error(resp, 401, "invalid_client").await;
    let resp = app
        .post_form("/introspect", &body, Some(("svc", "wrong-secret-xxxxxxxx")))
        .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
    let resp = app
        .post_form("/introspect", "", Some(("svc", &secret)))
        .await;
    assert_oauth_error(resp, 400, "invalid_request").await;
}

#[tokio::test]
async fn public_clients_may_not_introspect() {
    let app = spawn_app().await;
    app.create_client(NewClient {
        id: "spa".into(),
        public: true,
        redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
        ..Default::default()
    })
    .await;
    let resp = app
        .post_form("/introspect", "token=abc&client_id=spa", None)
        .await;
    assert_oauth_error(resp, 400, "unauthorized_client").await;
}

/// Registers the service `svc` with 64 scopes (as many as a client may have) of `len`
/// characters each; returns its secret and its first scope.
async fn service_with_many_scopes(app: &TestApp, len: usize) -> (String, String) {
    let scopes: Vec<String> = (0..64)
        .map(|i| format!("{i:02}{}", "s".repeat(len - 2)))
        .collect();
    let scopes_ref: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let secret = app.create_service_client("svc", &scopes_ref).await;
    (secret, scopes[0].clone())
}

#[tokio::test]
async fn a_token_longer_than_an_ordinary_parameter_is_introspected_and_revoked() {
    // Arrange: a service whose tokens carry 64 scopes, longer than the 4,096 characters an
    // ordinary parameter may have.
    let app = spawn_app().await;
    let (secret, _) = service_with_many_scopes(&app, 80).await;
    let rs_secret = app.create_service_client("resource-server", &[]).await;
    let token = app.client_credentials_token("svc", &secret, "").await;
    let token = token["access_token"].as_str().unwrap().to_owned();
    assert!(token.len() > 4096, "{} characters", token.len());

    // Act and assert: the resource server sees it live, with all its scopes.
    let info = introspect_via_oauth2(&app, &rs_secret, &token).await;
    assert!(info.active());
    assert_eq!(info.scopes().unwrap().len(), 64);

    // The service revokes it, and it is no longer live.
    let resp = app.revoke_access_token(&token, ("svc", &secret)).await;
    assert_eq!(resp.status(), 200);
    let info = introspect_via_oauth2(&app, &rs_secret, &token).await;
    assert!(!info.active());
}

#[tokio::test]
async fn a_token_too_long_to_parse_is_refused_not_issued() {
    // 64 scopes of 256 characters: the token would be longer than the 16 KiB this server
    // (and any party it hands the token to) parses.
    let app = spawn_app().await;
    let (secret, first_scope) = service_with_many_scopes(&app, 256).await;
    let before = app.stored().await;

    let resp = app.client_credentials_request("svc", &secret, "").await;

    let body = assert_oauth_error(resp, 400, "invalid_request").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("fewer scopes"),
        "{body}"
    );
    assert_eq!(app.stored().await, before);
    // A narrower request still gets its token.
    let token = app
        .client_credentials_token("svc", &secret, &format!("&scope={first_scope}"))
        .await;
    assert!(token["access_token"].is_string());
}
