//! How a person signed in travels with the session and the grant: the ID token of a code
//! exchange and of every refresh carries `amr` (OpenID Connect Core section 2, RFC 8176).
use serde_json::Value;

use crate::flow::{Browser, exchange, refresh, sign_in_with_pkce, user, web_client};
use crate::helpers::spawn_app;

#[tokio::test]
async fn id_tokens_from_the_code_and_from_a_refresh_carry_the_amr_of_the_sign_in() {
    // Arrange
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let (q, verifier, _) = sign_in_with_pkce(&app, &browser, "web", "alice").await;

    // Act
    let first: Value = exchange(&app, ("web", &secret), &q["code"], &verifier)
        .await
        .json()
        .await
        .unwrap();
    let refreshed: Value = refresh(
        &app,
        ("web", &secret),
        first["refresh_token"].as_str().unwrap(),
    )
    .await
    .json()
    .await
    .unwrap();

    // Assert
    for tokens in [&first, &refreshed] {
        let (_, claims) = app
            .verify_jwt(tokens["id_token"].as_str().unwrap(), "web")
            .await;
        assert_eq!(claims["amr"], serde_json::json!(["pwd"]), "{claims}");
    }
    let meta = app.openid_configuration().await;
    let claims: Vec<&str> = meta["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(claims.contains(&"amr"));
}

#[tokio::test]
async fn the_openidconnect_client_reads_amr_from_the_id_token() {
    use openidconnect::core::{CoreClient, CoreProviderMetadata};
    use openidconnect::{
        AuthorizationCode, ClientId, ClientSecret, IssuerUrl, Nonce, PkceCodeVerifier, RedirectUrl,
        TokenResponse,
    };
    // Arrange
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let (q, verifier, _) = sign_in_with_pkce(&app, &browser, "web", "alice").await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new("web".into()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(crate::flow::REDIRECT.into()).unwrap());

    // Act
    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap();
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new("n-456".into()))
        .unwrap();

    // Assert
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(amr, vec!["pwd"]);
}
