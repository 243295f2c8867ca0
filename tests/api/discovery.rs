//! RFC 8414 and OpenID Connect Discovery metadata, read by a real client library.
use openidconnect::IssuerUrl;
use openidconnect::core::CoreProviderMetadata;

use crate::helpers::spawn_app;

#[tokio::test]
async fn openid_client_library_discovers_the_provider() {
    let app = spawn_app().await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .expect("discovery (fetches the JWKS too)");
    assert_eq!(meta.issuer().as_str(), app.address);
    assert_eq!(meta.token_endpoint().unwrap().as_str(), app.url("/token"));
    assert_eq!(meta.jwks().keys().len(), 3, "RS256, ES256 and EdDSA keys");
}

#[tokio::test]
async fn both_metadata_documents_agree_and_advertise_what_is_implemented() {
    let app = spawn_app().await;
    let oidc = app.openid_configuration().await;
    let resp = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let oauth: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(oidc, oauth);
    assert_eq!(oidc["issuer"], app.address);
    assert_eq!(oidc["introspection_endpoint"], app.url("/introspect"));
    assert_eq!(oidc["revocation_endpoint"], app.url("/revoke"));
    assert_eq!(oidc["jwks_uri"], app.url("/jwks"));
    let methods = oidc["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    for m in [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ] {
        assert!(methods.iter().any(|v| v == m), "{m}");
    }
    assert!(!methods.iter().any(|v| v == "client_secret_jwt"));
    assert_eq!(
        oidc["grant_types_supported"],
        serde_json::json!([
            "authorization_code",
            "client_credentials",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ])
    );
    assert_eq!(
        oidc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        oidc["response_types_supported"],
        serde_json::json!(["code"])
    );
    // The languages the sign-in pages speak (OpenID Connect Discovery section 3).
    assert_eq!(
        oidc["ui_locales_supported"],
        serde_json::json!(["en", "de"])
    );
}
