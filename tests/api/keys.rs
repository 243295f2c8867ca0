//! The published JWKS and key rotation.
use crate::helpers::spawn_app;

#[tokio::test]
async fn jwks_publishes_public_keys_only_with_kid_use_alg_and_caching() {
    let app = spawn_app().await;
    let resp = app.http.get(app.url("/jwks")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let cache = resp.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.contains("max-age="), "{cache}");
    let body: serde_json::Value = resp.json().await.unwrap();
    let keys = body["keys"].as_array().unwrap();
    let mut algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort();
    assert_eq!(algs, ["ES256", "EdDSA", "RS256"]);
    for k in keys {
        assert!(k["kid"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(k["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(
                k.get(private).is_none(),
                "private member {private} published"
            );
        }
    }
}

#[tokio::test]
async fn rotation_signs_with_the_new_key_and_keeps_the_old_one_published() {
    let app = spawn_app().await;
    let secret = app.create_service_client("svc", &[]).await;
    let before = app.client_credentials_token("svc", &secret, "").await;
    let before = before["access_token"].as_str().unwrap().to_owned();
    let old_kid = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();

    // The same operation as `latchkey keys rotate`, done on the database; the running
    // server picks it up on its next reload (1 s in tests).
    let master = latchkey::crypto::MasterKey::from_base64(&app.master_key).unwrap();
    latchkey::keys::rotate_keys(&app.store, &master, 3600, 0)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;

    let after = app.client_credentials_token("svc", &secret, "").await;
    let after = after["access_token"].as_str().unwrap();
    let new_kid = jsonwebtoken::decode_header(after).unwrap().kid.unwrap();
    assert_ne!(old_kid, new_kid);
    app.verify_jwt(after, &app.address).await;
    app.verify_jwt(&before, &app.address).await;
    assert_eq!(app.jwks().await.keys.len(), 6);
    assert_eq!(
        app.introspect(&before, ("svc", &secret)).await["active"],
        true
    );
}
