//! Two nodes on one database behave as one issuer: nothing a request depends on lives in
//! only one process.
use crate::flow::{
    Browser, PASSWORD, REDIRECT, authorize_url, exchange, pkce, refresh, user, web_client,
};
use crate::helpers::{assert_oauth_error, spawn_app, urlencode};
use crate::process::ProcessNode;

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

#[tokio::test]
async fn automatic_rotation_by_racing_nodes_happens_once() {
    let app = spawn_app().await;
    let master = latchkey::crypto::MasterKey::from_base64(&app.master_key).unwrap();
    let other = latchkey::crypto::MasterKey::from_base64(&app.master_key).unwrap();
    let policy = latchkey::keys::RotationPolicy {
        period: 600,
        prepublish: 60,
        retention: 3600,
    };
    let due = latchkey::oauth::now() + 600;
    let (a, b) = tokio::join!(
        latchkey::keys::rotate_due_keys(&app.store, &master, policy, due),
        latchkey::keys::rotate_due_keys(&app.store, &other, policy, due),
    );
    let created = a.unwrap().len() + b.unwrap().len();
    assert_eq!(created, 3, "one new key per algorithm, whoever made it");
    let keys = latchkey::keys::KeyRepository::list_signing_keys(&app.store)
        .await
        .unwrap();
    assert_eq!(keys.len(), 6);
}

/// Two server processes of one issuer on one database.
async fn two_processes(
    app: &crate::helpers::TestApp,
    env: &[(&str, &str)],
) -> (ProcessNode, ProcessNode) {
    let a = ProcessNode::start(app.db_url(), &app.master_key, Some(&app.address), env).await;
    let b = ProcessNode::start(app.db_url(), &app.master_key, Some(&app.address), env).await;
    (a, b)
}

#[tokio::test]
async fn a_sign_in_alternating_between_two_processes_at_every_step() {
    let app = spawn_app().await;
    let (a, b) = two_processes(&app, &[]).await;
    let (na, nb) = (app.through(&a.address), app.through(&b.address));
    let secret = web_client(&app, "web").await;
    user(&app, "alice").await;

    let browser = Browser::new();
    let (verifier, challenge) = pkce();
    let login = browser
        .get(&authorize_url(&na, "web", &challenge, ""))
        .await;
    let consent = browser.login(&nb, &login, "alice", PASSWORD).await;
    let back = browser.consent(&na, &consent, "allow").await;
    let q = back.callback();
    assert_eq!(q["state"], "st-123");
    let resp = exchange(&nb, ("web", &secret), &q["code"], &verifier).await;
    assert_eq!(resp.status(), 200);
    let tokens: serde_json::Value = resp.json().await.unwrap();
    // The ID token verifies against either node's JWKS, with the one issuer.
    app.verify_jwt(tokens["id_token"].as_str().unwrap(), "web")
        .await;
    let refreshed = refresh(
        &na,
        ("web", &secret),
        tokens["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: serde_json::Value = refreshed.json().await.unwrap();
    let at = refreshed["access_token"].as_str().unwrap();
    let info = nb
        .http
        .get(nb.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
}

#[tokio::test]
async fn a_rotation_made_by_one_process_is_published_by_both_before_it_signs() {
    let app = spawn_app().await;
    let svc = app.create_service_client("svc", &[]).await;
    // A short cycle: rotate every 8 s, publish 2 s ahead (JWKS max-age 1 + reload 1).
    let env = [
        ("LATCHKEY_KEYS__ROTATION_PERIOD", "8"),
        ("LATCHKEY_KEYS__ROTATION_DELAY", "2"),
        ("LATCHKEY_KEYS__JWKS_MAX_AGE", "1"),
        ("LATCHKEY_TOKENS__ACCESS_TOKEN_ALG", "ES256"),
    ];
    let (a, b) = two_processes(&app, &env).await;
    let nodes = [app.through(&a.address), app.through(&b.address)];
    let first = kid_of(&nodes[0].client_credentials_token("svc", &svc, "").await);
    let mut published: std::collections::HashMap<String, [bool; 2]> = Default::default();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let new_kid = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no rotation within 30 s"
        );
        for (i, n) in nodes.iter().enumerate() {
            for k in n.jwks().await.keys {
                published.entry(k.common.key_id.unwrap()).or_default()[i] = true;
            }
        }
        let mut signed = None;
        for n in &nodes {
            let kid = kid_of(&n.client_credentials_token("svc", &svc, "").await);
            if kid != first {
                signed = Some(kid);
            }
        }
        if let Some(kid) = signed {
            break kid;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(
        published.get(&new_kid),
        Some(&[true, true]),
        "both nodes published {new_kid} before any signed with it"
    );
    // One node made the rotation: one key.rotated per algorithm across both logs.
    let rotated: Vec<serde_json::Value> = a
        .audit_events()
        .into_iter()
        .chain(b.audit_events())
        .filter(|e| e["event"] == "key.rotated" && e["alg"] == "ES256")
        .collect();
    assert_eq!(rotated.len(), 1, "{rotated:?}");
    assert_eq!(rotated[0]["kid"], new_kid.as_str());
    assert_eq!(rotated[0]["actor"], "server");
}

fn kid_of(token: &serde_json::Value) -> String {
    jsonwebtoken::decode_header(token["access_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap()
}
