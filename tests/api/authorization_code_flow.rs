//! The sign-in journey driven by the `openidconnect` crate as an unmodified relying party:
//! discovery, authorization URL with PKCE and nonce, login and consent over HTTP, code
//! exchange, ID-token verification by the library, userinfo, refresh.
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse,
};

use crate::flow::{Browser, PASSWORD, REDIRECT, user, web_client};
use crate::helpers::spawn_app;

#[tokio::test]
async fn relying_party_signs_a_user_in_end_to_end() {
    // Arrange
    let app = spawn_app().await;
    let secret = web_client(&app, "webapp").await;
    let alice = user(&app, "alice").await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new("webapp".into()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<openidconnect::core::CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    // Act: the person signs in and approves.
    let browser = Browser::new();
    let login = browser.get(auth_url.as_str()).await;
    assert!(login.is_login());
    assert!(login.body.contains("Example Web App"));
    let consent = browser.login(&app, &login, "alice", PASSWORD).await;
    assert!(consent.is_consent(), "{consent:?}");
    for scope in ["profile", "email", "offline_access"] {
        assert!(consent.body.contains(scope), "consent page lists {scope}");
    }
    let back = browser.consent(&app, &consent, "allow").await;
    assert_eq!(back.status, 303);
    let q = back.callback();
    assert_eq!(q["state"], *csrf.secret());
    assert_eq!(q["iss"], app.address, "RFC 9207 iss");

    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");

    // Assert: the library verifies the ID token (signature, iss, aud, exp, nonce, at_hash).
    let id_token = tokens.id_token().expect("id_token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verifies");
    assert_eq!(claims.subject().as_str(), alice);
    assert!(claims.auth_time().is_some());
    assert_eq!(claims.email().unwrap().as_str(), "alice@example.com");
    let at_hash = claims.access_token_hash().expect("at_hash");
    let expected = openidconnect::AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(*at_hash, expected);
    let (_, raw) = app.verify_jwt(&id_token.to_string(), "webapp").await;
    assert_eq!(raw["azp"], "webapp");
    assert_eq!(raw["nonce"], *nonce.secret());

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), alice);
    assert_eq!(info.email().unwrap().as_str(), "alice@example.com");
    assert_eq!(info.preferred_username().unwrap().as_str(), "alice");

    let refresh = tokens
        .refresh_token()
        .expect("refresh token for offline_access");
    let refreshed = client
        .exchange_refresh_token(&RefreshToken::new(refresh.secret().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        refresh.secret(),
        "rotated"
    );
    let again = refreshed.id_token().expect("id_token on refresh");
    let claims = again
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .expect("refreshed ID token verifies");
    assert_eq!(claims.subject().as_str(), alice);
}

#[tokio::test]
async fn public_client_with_pkce_gets_tokens_without_a_secret() {
    let app = spawn_app().await;
    crate::flow::public_client(&app, "spa").await;
    user(&app, "bob").await;
    let (verifier, challenge) = crate::flow::pkce();
    let browser = Browser::new();
    let q = crate::flow::sign_in(
        &app,
        &browser,
        &crate::flow::authorize_url(&app, "spa", &challenge, ""),
        "bob",
    )
    .await;
    let body = format!(
        "grant_type=authorization_code&client_id=spa&code={}&redirect_uri={}&code_verifier={verifier}",
        crate::helpers::urlencode(&q["code"]),
        crate::helpers::urlencode(REDIRECT)
    );
    let resp = app.post_form("/token", &body, None).await;
    assert_eq!(resp.status(), 200);
    let tokens: serde_json::Value = resp.json().await.unwrap();
    assert!(tokens["id_token"].is_string());
    let rt = tokens["refresh_token"].as_str().unwrap();
    let body = format!(
        "grant_type=refresh_token&client_id=spa&refresh_token={}",
        crate::helpers::urlencode(rt)
    );
    let resp = app.post_form("/token", &body, None).await;
    assert_eq!(resp.status(), 200);
    let next: serde_json::Value = resp.json().await.unwrap();
    assert_ne!(next["refresh_token"], tokens["refresh_token"]);
}
