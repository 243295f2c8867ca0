//! A service gets a token with its id and secret, and the token verifies against the
//! published keys with an independent JWT library.
use latchkey::admin::clients::NewClient;
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};

use crate::helpers::{assert_oauth_error, spawn_app, spawn_app_with};

fn http_client() -> oauth2::reqwest::Client {
    oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn service_gets_a_verifiable_rfc9068_token_with_client_secret_basic() {
    // Arrange
    let app = spawn_app().await;
    let secret = app
        .create_service_client("orders", &["orders:read", "orders:write"])
        .await;
    let client = BasicClient::new(ClientId::new("orders".into()))
        .set_client_secret(ClientSecret::new(secret))
        .set_token_uri(TokenUrl::new(app.url("/token")).unwrap());

    // Act
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("orders:read".into()))
        .request_async(&http_client())
        .await
        .expect("token response");

    // Assert
    assert_eq!(token.token_type().as_ref(), "bearer");
    assert!(
        token.refresh_token().is_none(),
        "RFC 6749 4.4.3: no refresh token"
    );
    let scopes: Vec<_> = token
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, ["orders:read"]);
    let (header, claims) = app
        .verify_jwt(token.access_token().secret(), &app.address)
        .await;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(claims["iss"], app.address);
    assert_eq!(claims["sub"], "orders");
    assert_eq!(claims["client_id"], "orders");
    assert_eq!(claims["scope"], "orders:read");
    assert!(claims["jti"].as_str().unwrap().len() >= 32);
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 3600);
}

#[tokio::test]
async fn client_secret_post_works_and_no_scope_means_all_allowed_scopes() {
    let app = spawn_app().await;
    let secret = app.create_service_client("billing", &["a", "b"]).await;
    let client = BasicClient::new(ClientId::new("billing".into()))
        .set_client_secret(ClientSecret::new(secret))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(TokenUrl::new(app.url("/token")).unwrap());

    let token = client
        .exchange_client_credentials()
        .request_async(&http_client())
        .await
        .expect("token response");

    let (_, claims) = app
        .verify_jwt(token.access_token().secret(), &app.address)
        .await;
    assert_eq!(claims["scope"], "a b");
}

#[tokio::test]
async fn token_response_is_not_cacheable() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let resp = app.client_credentials_request("svc", &secret, "").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["pragma"], "no-cache");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
}

#[tokio::test]
async fn scope_beyond_the_allowed_set_is_invalid_scope() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &["read"]).await;
    let resp = app
        .post_form(
            "/token",
            "grant_type=client_credentials&scope=read+admin",
            Some(("svc", &secret)),
        )
        .await;
    assert_oauth_error(resp, 400, "invalid_scope").await;
}

#[tokio::test]
async fn resource_sets_the_audience_and_multiple_resources_give_an_array() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;

    let one = app
        .client_credentials_token("svc", &secret, "&resource=https%3A%2F%2Fapi.example.com")
        .await;
    let (_, claims) = app
        .verify_jwt(
            one["access_token"].as_str().unwrap(),
            "https://api.example.com",
        )
        .await;
    assert_eq!(claims["aud"], "https://api.example.com");

    let two = app
        .client_credentials_token(
            "svc",
            &secret,
            "&resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example",
        )
        .await;
    let (_, claims) = app
        .verify_jwt(two["access_token"].as_str().unwrap(), "https://b.example")
        .await;
    assert_eq!(
        claims["aud"],
        serde_json::json!(["https://a.example", "https://b.example"])
    );
}

#[tokio::test]
async fn malformed_or_unregistered_resource_is_invalid_target() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let resp = app
        .post_form(
            "/token",
            "grant_type=client_credentials&resource=not-absolute",
            Some(("svc", &secret)),
        )
        .await;
    assert_oauth_error(resp, 400, "invalid_target").await;

    let secret = app
        .create_client(NewClient {
            id: "restricted".into(),
            grant_types: vec!["client_credentials".into()],
            audiences: vec!["https://orders.example".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let resp = app
        .post_form(
            "/token",
            "grant_type=client_credentials&resource=https%3A%2F%2Fpayments.example",
            Some(("restricted", &secret)),
        )
        .await;
    assert_oauth_error(resp, 400, "invalid_target").await;
    // Without a resource the registered audience is used.
    let ok = app
        .client_credentials_token("restricted", &secret, "")
        .await;
    let (_, claims) = app
        .verify_jwt(
            ok["access_token"].as_str().unwrap(),
            "https://orders.example",
        )
        .await;
    assert_eq!(claims["aud"], "https://orders.example");
}

#[tokio::test]
async fn configured_default_audience_and_global_algorithm_apply() {
    let app = spawn_app_with(|s| {
        s.tokens.default_audience = Some("https://internal.example".into());
        s.tokens.access_token_alg = latchkey::domain::SigningAlg::ES256;
    })
    .await;
    let secret = app.create_service_client("svc", &[]).await;
    let body = app.client_credentials_token("svc", &secret, "").await;
    let (header, claims) = app
        .verify_jwt(
            body["access_token"].as_str().unwrap(),
            "https://internal.example",
        )
        .await;
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(claims["aud"], "https://internal.example");
}

#[tokio::test]
async fn per_client_algorithm_overrides_the_default() {
    let app = spawn_app().await;
    for (id, alg, expect) in [
        ("ed", "EdDSA", jsonwebtoken::Algorithm::EdDSA),
        ("ec", "ES256", jsonwebtoken::Algorithm::ES256),
    ] {
        let secret = app
            .create_client(NewClient {
                id: id.into(),
                grant_types: vec!["client_credentials".into()],
                access_token_alg: Some(alg.into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let body = app.client_credentials_token(id, &secret, "").await;
        let (header, _) = app
            .verify_jwt(body["access_token"].as_str().unwrap(), &app.address)
            .await;
        assert_eq!(header.alg, expect);
    }
}

#[tokio::test]
async fn wrong_secret_is_invalid_client_with_www_authenticate() {
    let app = spawn_app().await;
    app.create_service_client("svc", &[]).await;
    let resp = app
        .post_form(
            "/token",
            "grant_type=client_credentials",
            Some(("svc", "wrong-secret-0123456789")),
        )
        .await;
    let www = resp.headers().get("www-authenticate").cloned();
    assert_oauth_error(resp, 401, "invalid_client").await;
    assert!(www.unwrap().to_str().unwrap().starts_with("Basic"));
}

#[tokio::test]
async fn unknown_client_and_missing_credentials_are_invalid_client() {
    let app = spawn_app().await;
    let resp = app
        .post_form(
            "/token",
            "grant_type=client_credentials",
            Some(("nobody", "x")),
        )
        .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
    let resp = app
        .post_form("/token", "grant_type=client_credentials", None)
        .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
    let secret = app.create_service_client("svc", &[]).await;
    let _ = secret;
    // A confidential client naming itself without a secret.
    let resp = app
        .post_form(
            "/token",
            "grant_type=client_credentials&client_id=svc",
            None,
        )
        .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
}

#[tokio::test]
async fn client_without_the_grant_is_unauthorized_client() {
    let app = spawn_app().await;
    let secret = app
        .create_client(NewClient {
            id: "webapp".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let resp = app
        .post_form(
            "/token",
            "grant_type=client_credentials",
            Some(("webapp", &secret)),
        )
        .await;
    assert_oauth_error(resp, 400, "unauthorized_client").await;
}

#[tokio::test]
async fn rotated_secret_replaces_the_old_one_at_once() {
    let app = spawn_app().await;
    let old = app.create_service_client("svc", &[]).await;
    let new = latchkey::admin::clients::rotate_secret(&app.store, "svc")
        .await
        .unwrap();
    let resp = app
        .post_form(
            "/token",
            "grant_type=client_credentials",
            Some(("svc", &old)),
        )
        .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
    app.client_credentials_token("svc", &new, "").await;
}

#[tokio::test]
async fn secrets_with_plus_and_percent_work_encoded_or_not() {
    let app = spawn_app().await;
    let secret = "s3cret+with%2Bspecial/chars=";
    app.create_client(NewClient {
        id: "svc".into(),
        secret: Some(secret.into()),
        grant_types: vec!["client_credentials".into()],
        ..Default::default()
    })
    .await;
    // As curl -u and most HTTP libraries send it: not form-encoded.
    app.client_credentials_token("svc", secret, "").await;
    // As RFC 6749 section 2.3.1 says: form-encoded before base64 (the oauth2 crate does this).
    let encoded = crate::helpers::urlencode(secret);
    app.client_credentials_token("svc", &encoded, "").await;
    let resp = app
        .post_form(
            "/token",
            "grant_type=client_credentials",
            Some(("svc", "s3cret with%2Bspecial/chars=")),
        )
        .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
}

#[tokio::test]
async fn no_scope_means_no_scope_member() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let body = app.client_credentials_token("svc", &secret, "").await;
    assert!(body.get("scope").is_none(), "{body}");
}
