//! Forged `private_key_jwt` assertions (RFC 7523 section 3, RFC 8725): algorithm confusion,
//! unknown keys, keys fetched from where this server must not connect. Each is
//! `invalid_client` and records no assertion id (a forgery must not burn a real `jti`).
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use latchkey::admin::clients::NewClient;

use crate::helpers::{assert_oauth_error, spawn_app};
use crate::private_key_jwt::{assertion, claims, ec_key, register, token_with};

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let app = spawn_app().await;
    let ec = ec_key("k");
    register(&app, "signer", &[&ec]).await;
    let before = app.stored().await;
    let public_forms = [
        ec.jwk.to_string().into_bytes(),
        ec.jwk["x"].as_str().unwrap().as_bytes().to_vec(),
        format!(
            "{}{}",
            ec.jwk["x"].as_str().unwrap(),
            ec.jwk["y"].as_str().unwrap()
        )
        .into_bytes(),
    ];
    for secret in public_forms {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some("k".into());
            let jwt = jsonwebtoken::encode(
                &header,
                &claims(&app, "signer"),
                &EncodingKey::from_secret(&secret),
            )
            .unwrap();
            assert_oauth_error(token_with(&app, &jwt).await, 401, "invalid_client").await;
        }
    }
    assert_eq!(app.stored().await, before);
}

#[tokio::test]
async fn unknown_kid_or_a_kid_of_another_client_is_refused() {
    let app = spawn_app().await;
    let mine = ec_key("mine");
    let theirs = ec_key("theirs");
    register(&app, "signer", &[&mine]).await;
    register(&app, "other", &[&theirs]).await;
    let before = app.stored().await;
    // A kid nobody registered, signed by a key nobody registered.
    let stranger = ec_key("nope");
    let jwt = assertion(&stranger, claims(&app, "signer"));
    assert_oauth_error(token_with(&app, &jwt).await, 401, "invalid_client").await;
    // The other client's genuine key, claiming to be `signer`.
    let jwt = assertion(&theirs, claims(&app, "signer"));
    assert_oauth_error(token_with(&app, &jwt).await, 401, "invalid_client").await;
    // Our key with a kid header pointing at nothing: verification does not fall back.
    let mut header = Header::new(mine.alg);
    header.kid = Some("../../etc/passwd".into());
    let jwt = jsonwebtoken::encode(&header, &claims(&app, "signer"), &mine.encoding).unwrap();
    assert_oauth_error(token_with(&app, &jwt).await, 401, "invalid_client").await;
    // An embedded key (jwk header) is not trusted.
    let mut header = Header::new(stranger.alg);
    header.jwk = serde_json::from_value(stranger.jwk.clone()).ok();
    let jwt = jsonwebtoken::encode(&header, &claims(&app, "signer"), &stranger.encoding).unwrap();
    assert_oauth_error(token_with(&app, &jwt).await, 401, "invalid_client").await;
    assert_eq!(app.stored().await, before);
}

#[tokio::test]
async fn a_jwks_uri_at_a_metadata_or_link_local_address_is_never_fetched() {
    let app = spawn_app().await;
    for (id, uri) in [
        ("meta", "https://169.254.169.254/latest/meta-data/jwks"),
        ("linklocal", "https://[fe80::1]/jwks"),
        ("mapped", "https://[::ffff:169.254.169.254]/jwks"),
    ] {
        app.create_client(NewClient {
            id: id.into(),
            grant_types: vec!["client_credentials".into()],
            auth_method: Some("private_key_jwt".into()),
            jwks_uri: Some(uri.into()),
            ..Default::default()
        })
        .await;
    }
    let key = ec_key("k");
    let before = app.stored().await;
    for id in ["meta", "linklocal", "mapped"] {
        let jwt = assertion(&key, claims(&app, id));
        assert_oauth_error(token_with(&app, &jwt).await, 401, "invalid_client").await;
    }
    assert_eq!(app.stored().await, before);
}
