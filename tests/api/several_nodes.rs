//! Two nodes on one database behave as one issuer: nothing a request depends on lives in
//! only one process.
use crate::flow::{
    Browser, PASSWORD, REDIRECT, authorize_url, exchange, pkce, refresh, user, web_client,
};
use crate::helpers::{assert_oauth_error, spawn_app, urlencode};

#[tokio::test]
async fn tokens_codes_sessions_and_revocations_work_across_nodes() {
    let a = spawn_app().await;
    let b = a.second_node().await;
    let secret = web_client(&a, "web").await;
    let svc = a.create_service_client("svc", &[]).await;
    user(&a, "alice").await;

    // A service token from node A introspects on node B; revoked on B: inactive on B at
    // once, and on A within `cache.revocation_refresh` (1 s here, the spawn_app default).
    let token = a.client_credentials_token("svc", &svc, "").await;
    let token = token["access_token"].as_str().unwrap();
    assert_eq!(b.introspect(token, ("svc", &svc)).await["active"], true);
    assert_eq!(a.introspect(token, ("svc", &svc)).await["active"], true);
    let resp = b
        .post_form(
            "/revoke",
            &format!("token={}", urlencode(token)),
            Some(("svc", &svc)),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(b.introspect(token, ("svc", &svc)).await["active"], false);
    assert!(
        a.eventually(|| async { a.introspect(token, ("svc", &svc)).await["active"] == false })
            .await,
        "node A still reports a token revoked on node B active after the refresh bound"
    );

    // Sign in on node A, then node B knows the session (the same browser, another node).
    let browser = Browser::new();
    let (verifier, challenge) = pkce();
    let page = browser.get(&authorize_url(&a, "web", &challenge, "")).await;
    let consent = browser.login(&a, &page, "alice", PASSWORD).await;
    // The consent form is answered on node B: its ticket and CSRF token verify there.
    let csrf = consent.input("csrf_token").unwrap();
    let req = consent.input("req").unwrap();
    let back = browser
        .post(
            &b.url("/consent"),
            &[("csrf_token", &csrf), ("req", &req), ("decision", "allow")],
        )
        .await;
    let q = back.callback();
    assert!(back.location.as_deref().unwrap().starts_with(REDIRECT));
    // Cookies are not port-scoped, so the browser shows node B the session made on node A.
    let silent = browser
        .get(&authorize_url(&b, "web", &challenge, "&prompt=none"))
        .await;
    assert!(silent.callback().contains_key("code"), "{silent:?}");

    // The code from node B is exchanged on node A, once; a replay on B revokes it all.
    let first = exchange(&a, ("web", &secret), &q["code"], &verifier).await;
    assert_eq!(first.status(), 200);
    let tokens: serde_json::Value = first.json().await.unwrap();
    let replay = exchange(&b, ("web", &secret), &q["code"], &verifier).await;
    assert_oauth_error(replay, 400, "invalid_grant").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_oauth_error(
        refresh(&a, ("web", &secret), rt).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn a_key_rotated_anywhere_reaches_every_node() {
    let a = spawn_app().await;
    let b = a.second_node().await;
    let svc = a.create_service_client("svc", &[]).await;
    let master = latchkey::crypto::MasterKey::from_base64(&a.master_key).unwrap();
    latchkey::keys::rotate_keys(&a.store, &master, 3600, 0)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let from_a = a.client_credentials_token("svc", &svc, "").await;
    let from_b = b.client_credentials_token("svc", &svc, "").await;
    let kid = |t: &serde_json::Value| {
        jsonwebtoken::decode_header(t["access_token"].as_str().unwrap())
            .unwrap()
            .kid
            .unwrap()
    };
    assert_eq!(
        kid(&from_a),
        kid(&from_b),
        "both nodes sign with the new key"
    );
    assert_eq!(a.jwks().await.keys.len(), b.jwks().await.keys.len());
}
