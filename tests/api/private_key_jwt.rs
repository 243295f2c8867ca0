//! `private_key_jwt` client authentication (RFC 7523, OpenID Connect Core section 9).
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use latchkey::admin::clients::NewClient;
use latchkey::crypto::{b64url, random_token};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_oauth_error, spawn_app, urlencode};

pub(crate) struct ClientKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

pub(crate) fn ec_key(kid: &str) -> ClientKey {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let _ = rng;
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let pkcs8 = pair.to_pkcs8v1().unwrap();
    let point = pair.public_key().as_ref().to_vec();
    ClientKey {
        kid: kid.into(),
        alg: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                    "x": b64url(&point[1..33]), "y": b64url(&point[33..65])}),
    }
}

pub(crate) fn ed_key(kid: &str) -> ClientKey {
    let pair = Ed25519KeyPair::generate().unwrap();
    let pkcs8 = pair.to_pkcs8().unwrap();
    ClientKey {
        kid: kid.into(),
        alg: Algorithm::EdDSA,
        encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
        jwk: json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA",
                    "x": b64url(pair.public_key().as_ref())}),
    }
}

pub(crate) fn assertion(key: &ClientKey, claims: Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
}

pub(crate) fn claims(app: &TestApp, client_id: &str) -> Value {
    let now = latchkey::oauth::now();
    json!({"iss": client_id, "sub": client_id, "aud": app.url("/token"),
           "iat": now, "exp": now + 120, "jti": random_token()})
}

pub(crate) async fn register(app: &TestApp, id: &str, keys: &[&ClientKey]) {
    let jwks = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    app.create_client(NewClient {
        id: id.into(),
        grant_types: vec!["client_credentials".into()],
        auth_method: Some("private_key_jwt".into()),
        jwks_file_contents: Some(jwks.to_string()),
        ..Default::default()
    })
    .await;
}

pub(crate) async fn token_with(app: &TestApp, jwt: &str) -> reqwest::Response {
    let body = format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={}",
        urlencode(latchkey::oauth::client_auth::JWT_BEARER_ASSERTION),
        urlencode(jwt)
    );
    app.post_form("/token", &body, None).await
}

#[tokio::test]
async fn es256_and_eddsa_assertions_authenticate_the_client() {
    let app = spawn_app().await;
    let ec = ec_key("ec-1");
    let ed = ed_key("ed-1");
    register(&app, "signer", &[&ec, &ed]).await;
    for key in [&ec, &ed] {
        let resp = token_with(&app, &assertion(key, claims(&app, "signer"))).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        let (_, c) = app
            .verify_jwt(body["access_token"].as_str().unwrap(), &app.address)
            .await;
        assert_eq!(c["client_id"], "signer");
    }
}

#[tokio::test]
async fn issuer_is_an_accepted_audience_too() {
    let app = spawn_app().await;
    let ec = ec_key("k");
    register(&app, "signer", &[&ec]).await;
    let mut c = claims(&app, "signer");
    c["aud"] = json!(app.address);
    assert_eq!(token_with(&app, &assertion(&ec, c)).await.status(), 200);
}

#[tokio::test]
async fn an_hour_long_assertion_is_honoured_for_the_accepted_lifetime_after_iat() {
    let app = spawn_app().await;
    let ec = ec_key("k");
    register(&app, "signer", &[&ec]).await;
    let mut c = claims(&app, "signer");
    c["exp"] = json!(latchkey::oauth::now() + 3600);
    let jwt = assertion(&ec, c);
    assert_eq!(token_with(&app, &jwt).await.status(), 200);
    assert_oauth_error(token_with(&app, &jwt).await, 401, "invalid_client").await;
}

#[tokio::test]
async fn replayed_assertion_is_rejected() {
    let app = spawn_app().await;
    let ec = ec_key("k");
    register(&app, "signer", &[&ec]).await;
    let jwt = assertion(&ec, claims(&app, "signer"));
    assert_eq!(token_with(&app, &jwt).await.status(), 200);
    assert_oauth_error(token_with(&app, &jwt).await, 401, "invalid_client").await;
}

#[tokio::test]
async fn expired_wrong_audience_missing_jti_and_far_future_assertions_are_rejected() {
    let app = spawn_app().await;
    let ec = ec_key("k");
    register(&app, "signer", &[&ec]).await;
    let now = latchkey::oauth::now();
    type Mutation = Box<dyn Fn(&mut Value)>;
    let mutations: Vec<Mutation> = vec![
        Box::new(move |c| c["exp"] = json!(now - 300)),
        Box::new(|c| c["aud"] = json!("https://elsewhere.example/token")),
        Box::new(|c| {
            c.as_object_mut().unwrap().remove("jti");
        }),
        Box::new(move |c| {
            // Far in the future and no iat to bound it.
            c["exp"] = json!(now + 86_400);
            c.as_object_mut().unwrap().remove("iat");
        }),
        Box::new(move |c| {
            // Long-lived, but issued longer ago than the accepted lifetime.
            c["iat"] = json!(now - 700);
            c["exp"] = json!(now + 3600);
        }),
        Box::new(|c| c["sub"] = json!("someone-else")),
        Box::new(move |c| c["nbf"] = json!(now + 3600)),
    ];
    for m in mutations {
        let mut c = claims(&app, "signer");
        m(&mut c);
        assert_oauth_error(
            token_with(&app, &assertion(&ec, c)).await,
            401,
            "invalid_client",
        )
        .await;
    }
}

#[tokio::test]
async fn unregistered_key_alg_none_and_garbage_are_rejected() {
    let app = spawn_app().await;
    let ec = ec_key("k");
    register(&app, "signer", &[&ec]).await;
    let other = ec_key("k");
    let jwt = assertion(&other, claims(&app, "signer"));
    assert_oauth_error(token_with(&app, &jwt).await, 401, "invalid_client").await;

    let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64url(claims(&app, "signer").to_string().as_bytes());
    let none = format!("{header}.{payload}.");
    assert_oauth_error(token_with(&app, &none).await, 401, "invalid_client").await;

    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(&app, "signer"),
        &EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    assert_oauth_error(token_with(&app, &hs).await, 401, "invalid_client").await;
    assert_oauth_error(token_with(&app, "garbage").await, 401, "invalid_client").await;
}

#[tokio::test]
async fn wrong_assertion_type_is_invalid_request() {
    let app = spawn_app().await;
    let body = "grant_type=client_credentials&client_assertion_type=urn%3Ax&client_assertion=a.b.c";
    assert_oauth_error(
        app.post_form("/token", body, None).await,
        400,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn a_secret_cannot_authenticate_a_private_key_jwt_client() {
    let app = spawn_app().await;
    let ec = ec_key("k");
    register(&app, "signer", &[&ec]).await;
    let resp = app
        .post_form(
            "/token",
            "grant_type=client_credentials",
            Some(("signer", "some-secret-0123456789")),
        )
        .await;
    assert_oauth_error(resp, 401, "invalid_client").await;
}

#[tokio::test]
async fn keys_from_a_jwks_uri_are_fetched_and_refetched_after_rotation() {
    let app = crate::helpers::spawn_app_with(|s| s.keys.client_jwks_min_refetch = 0).await;
    let first = ec_key("first");
    let second = ed_key("second");
    let served = std::sync::Arc::new(std::sync::Mutex::new(json!({"keys": [first.jwk.clone()]})));
    let state = served.clone();
    let router = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let state = state.clone();
            async move { axum::Json(state.lock().unwrap().clone()) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    app.create_client(NewClient {
        id: "remote".into(),
        grant_types: vec!["client_credentials".into()],
        auth_method: Some("private_key_jwt".into()),
        jwks_uri: Some(format!("http://127.0.0.1:{port}/jwks.json")),
        ..Default::default()
    })
    .await;

    assert_eq!(
        token_with(&app, &assertion(&first, claims(&app, "remote")))
            .await
            .status(),
        200
    );
    *served.lock().unwrap() = json!({"keys": [second.jwk.clone()]});
    assert_eq!(
        token_with(&app, &assertion(&second, claims(&app, "remote")))
            .await
            .status(),
        200
    );
}
