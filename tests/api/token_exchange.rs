//! Token exchange (RFC 8693): a service exchanges a person's access token for a token for a
//! downstream service, with narrower scopes, the downstream audience and an `act` claim
//! naming it (nested along a chain). Every refusal carries its RFC code and stores nothing.
use latchkey::admin::AdminError;
use latchkey::admin::clients::NewClient;
use latchkey::admin::exchange::NewExchangePolicy;
use serde_json::{Value, json};

use crate::flow::{Browser, REDIRECT, pkce, sign_in, user};
use crate::helpers::{TestApp, assert_oauth_error, spawn_app, spawn_app_with, urlencode};

const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const USER_SCOPE: &str = "openid orders:read orders:write inventory:read";

fn policy(audiences: &[&str], scopes: &[&str], may_impersonate: bool) -> NewExchangePolicy {
    NewExchangePolicy {
        audiences: audiences.iter().map(|s| s.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        may_impersonate,
        issuers: Vec::new(),
    }
}

/// App A: a web app people sign in to, which may exchange their tokens for service B.
async fn app_a(app: &TestApp, exchange: NewExchangePolicy) -> (&'static str, String) {
    let secret = app
        .create_client(NewClient {
            id: "app-a".into(),
            redirect_uris: vec![REDIRECT.into()],
            scopes: vec![USER_SCOPE.into()],
            first_party: true,
            exchange,
            ..Default::default()
        })
        .await
        .unwrap();
    ("app-a", secret)
}

/// A backend service with client credentials and an exchange policy.
pub(crate) async fn service(
    app: &TestApp,
    id: &'static str,
    exchange: NewExchangePolicy,
) -> (&'static str, String) {
    let secret = app
        .create_client(NewClient {
            id: id.into(),
            grant_types: vec!["client_credentials".into()],
            scopes: vec!["svc".into()],
            exchange,
            ..Default::default()
        })
        .await
        .unwrap();
    (id, secret)
}

/// Alice signs in to `client` and the client redeems the code: her access token response.
async fn user_token(app: &TestApp, client: (&str, &str)) -> Value {
    let (verifier, challenge) = pkce();
    let url = format!(
        "{}?response_type=code&client_id={}&redirect_uri={}&scope={}&state=s&code_challenge={challenge}&code_challenge_method=S256",
        app.url("/authorize"),
        client.0,
        urlencode(REDIRECT),
        urlencode(USER_SCOPE)
    );
    let q = sign_in(app, &Browser::new(), &url, "alice").await;
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={verifier}",
        urlencode(&q["code"]),
        urlencode(REDIRECT)
    );
    let resp = app.post_form("/token", &body, Some(client)).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// POSTs a token exchange request as `client`, with `extra` form text.
async fn exchange(
    app: &TestApp,
    client: (&str, &str),
    subject_token: &str,
    extra: &str,
) -> reqwest::Response {
    let body = format!(
        "grant_type={}&subject_token={}&subject_token_type={}{extra}",
        urlencode(GRANT),
        urlencode(subject_token),
        urlencode(ACCESS)
    );
    app.post_form("/token", &body, Some(client)).await
}

async fn exchange_ok(app: &TestApp, client: (&str, &str), subject: &str, extra: &str) -> Value {
    let resp = exchange(app, client, subject, extra).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// (client, subject token, extra form text, status, error code).
type Case<'a> = ((&'a str, &'a str), String, String, u16, &'static str);

fn at(v: &Value) -> &str {
    v["access_token"].as_str().expect("access_token")
}

#[tokio::test]
async fn three_services_delegate_along_a_chain_with_nested_act() {
    // Arrange: alice -> app A -> service B -> service C.
    let app = spawn_app().await;
    let alice = user(&app, "alice").await;
    let a = app_a(
        &app,
        policy(&["service-b"], &["orders:read", "inventory:read"], false),
    )
    .await;
    let b = service(
        &app,
        "service-b",
        policy(&["service-c"], &["inventory:read"], false),
    )
    .await;
    let c = app.create_service_client("service-c", &["svc"]).await;
    let t0 = user_token(&app, (a.0, &a.1)).await;

    // Act: A exchanges alice's token for B, then B exchanges that for C.
    let t1 = exchange_ok(
        &app,
        (a.0, &a.1),
        at(&t0),
        "&audience=service-b&scope=orders:read+inventory:read",
    )
    .await;
    let t2 = exchange_ok(&app, (b.0, &b.1), at(&t1), "&audience=service-c").await;

    // Assert: RFC 8693 section 2.2.1 response, no refresh token.
    assert_eq!(t1["issued_token_type"], ACCESS);
    assert_eq!(t1["token_type"], "Bearer");
    assert_eq!(t1["scope"], "inventory:read orders:read");
    assert!(t1.get("refresh_token").is_none() && t1.get("id_token").is_none());
    // Short-lived: tokens.exchanged_token_ttl (300 s), not the 3600 s of access tokens.
    let lifetime = t1["expires_in"].as_u64().unwrap();
    assert!((299..=300).contains(&lifetime), "{t1}");
    let (_, c1) = app.verify_jwt(at(&t1), "service-b").await;
    assert_eq!(c1["sub"], alice);
    assert_eq!(c1["client_id"], "app-a");
    assert_eq!(c1["act"], json!({ "sub": "app-a" }));
    // C's token: alice's, for C, only what B may pass on, naming B acting for A.
    assert_eq!(t2["scope"], "inventory:read");
    let (header, c2) = app.verify_jwt(at(&t2), "service-c").await;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(c2["sub"], alice);
    assert_eq!(c2["aud"], "service-c");
    assert_eq!(c2["client_id"], "service-b");
    assert_eq!(c2["scope"], "inventory:read");
    assert_eq!(
        c2["act"],
        json!({ "sub": "service-b", "act": { "sub": "app-a" } })
    );
    let (_, c0) = app.verify_jwt(at(&t0), &app.address).await;
    assert!(c2["exp"].as_i64().unwrap() <= c0["exp"].as_i64().unwrap());
    // Introspection shows the actor chain (RFC 8693 section 4.1) to any resource server.
    let info = app.introspect(at(&t2), ("service-c", &c)).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["sub"], alice);
    assert_eq!(info["act"], c2["act"]);
}

#[tokio::test]
async fn scopes_narrow_to_the_subject_token_and_the_policy() {
    // Arrange: A may pass on orders:read and admin; alice's token has no admin.
    let app = spawn_app().await;
    user(&app, "alice").await;
    let a = app_a(
        &app,
        policy(&["service-b"], &["orders:read", "admin"], false),
    )
    .await;
    let t0 = user_token(&app, (a.0, &a.1)).await;

    // Act + Assert: no scope asked gives the intersection; more is invalid_scope.
    let t = exchange_ok(&app, (a.0, &a.1), at(&t0), "&audience=service-b").await;
    assert_eq!(t["scope"], "orders:read");
    let before = app.stored().await;
    for scope in ["admin", "orders:write", "orders:read+inventory:read"] {
        let resp = exchange(
            &app,
            (a.0, &a.1),
            at(&t0),
            &format!("&audience=service-b&scope={scope}"),
        )
        .await;
        assert_oauth_error(resp, 400, "invalid_scope").await;
    }
    assert_eq!(
        app.stored().await,
        before,
        "a refused exchange stores nothing"
    );
}

#[tokio::test]
async fn refusals_carry_their_rfc_codes_and_store_nothing() {
    // Arrange
    let app = spawn_app().await;
    user(&app, "alice").await;
    let a = app_a(
        &app,
        policy(
            &["service-b", "https://b.example/api"],
            &["orders:read"],
            false,
        ),
    )
    .await;
    let plain = app.create_service_client("plain", &["svc"]).await;
    let other = app.create_service_client("other", &["svc"]).await;
    let t0 = user_token(&app, (a.0, &a.1)).await;
    let other_token = app.client_credentials_token("other", &other, "").await;
    let id_token = t0["id_token"].as_str().unwrap().to_owned();
    let foreign = spawn_app().await;
    user(&foreign, "alice").await;
    let fa = app_a(&foreign, policy(&["service-b"], &["orders:read"], false)).await;
    let foreign_token = user_token(&foreign, (fa.0, &fa.1)).await;
    let before = app.stored().await;
    let ac = (a.0, a.1.as_str());
    let s = at(&t0);
    let aud = "&audience=service-b";
    let cases: Vec<Case> = vec![
        // A client without an exchange policy.
        (
            ("plain", &plain),
            s.into(),
            aud.into(),
            400,
            "unauthorized_client",
        ),
        // Target: missing, not in the policy, malformed.
        (ac, s.into(), String::new(), 400, "invalid_request"),
        (
            ac,
            s.into(),
            "&audience=service-c".into(),
            400,
            "invalid_target",
        ),
        (
            ac,
            s.into(),
            "&resource=https://c.example/api".into(),
            400,
            "invalid_target",
        ),
        (
            ac,
            s.into(),
            "&resource=not-a-uri".into(),
            400,
            "invalid_target",
        ),
        // Token types: only access tokens are exchanged and issued.
        (
            ac,
            s.into(),
            format!("{aud}&requested_token_type={}", urlencode(ID_TOKEN)),
            400,
            "invalid_request",
        ),
        (
            ac,
            s.into(),
            format!("{aud}&requested_token_type=urn:ietf:params:oauth:token-type:refresh_token"),
            400,
            "invalid_request",
        ),
        // Subject token: garbage, an ID token, a token of another issuer.
        (ac, "not-a-token".into(), aud.into(), 400, "invalid_grant"),
        (ac, id_token.clone(), aud.into(), 400, "invalid_grant"),
        (
            ac,
            at(&foreign_token).into(),
            aud.into(),
            400,
            "invalid_grant",
        ),
        // Actor token: without its type, of another client, not a token.
        (
            ac,
            s.into(),
            format!("{aud}&actor_token=x"),
            400,
            "invalid_request",
        ),
        (
            ac,
            s.into(),
            format!("{aud}&actor_token_type={}", urlencode(ACCESS)),
            400,
            "invalid_request",
        ),
        (
            ac,
            s.into(),
            format!(
                "{aud}&actor_token={}&actor_token_type={}",
                at(&other_token),
                urlencode(ACCESS)
            ),
            400,
            "invalid_grant",
        ),
    ];

    for (client, subject, extra, status, code) in cases {
        // Act
        let resp = exchange(&app, client, &subject, &extra).await;
        // Assert
        let body = assert_oauth_error(resp, status, code).await;
        assert!(body.get("access_token").is_none(), "{extra}: {body}");
    }
    // An ID token declared as such is an unsupported subject token type.
    let body = format!(
        "grant_type={}&subject_token={}&subject_token_type={}{aud}",
        urlencode(GRANT),
        urlencode(&id_token),
        urlencode(ID_TOKEN)
    );
    let resp = app.post_form("/token", &body, Some(ac)).await;
    assert_oauth_error(resp, 400, "invalid_request").await;
    // A missing subject token.
    let body = format!(
        "grant_type={}&subject_token_type={}{aud}",
        urlencode(GRANT),
        urlencode(ACCESS)
    );
    let resp = app.post_form("/token", &body, Some(ac)).await;
    assert_oauth_error(resp, 400, "invalid_request").await;
    assert_eq!(
        app.stored().await,
        before,
        "a refused exchange stores nothing"
    );
}

#[tokio::test]
async fn a_revoked_subject_token_cannot_be_exchanged_and_exchanged_tokens_are_revocable() {
    // Arrange
    let app = spawn_app().await;
    user(&app, "alice").await;
    let a = app_a(&app, policy(&["service-b"], &["orders:read"], false)).await;
    let t0 = user_token(&app, (a.0, &a.1)).await;
    let t1 = exchange_ok(&app, (a.0, &a.1), at(&t0), "&audience=service-b").await;

    // Act: A revokes the exchanged token, then alice's token.
    let revoke = |token: String| {
        let body = format!("token={}", urlencode(&token));
        let app = &app;
        let creds = (a.0, a.1.clone());
        async move {
            app.post_form("/revoke", &body, Some((creds.0, &creds.1)))
                .await
                .status()
        }
    };
    assert_eq!(revoke(at(&t1).to_owned()).await, 200);
    assert_eq!(app.introspect(at(&t1), (a.0, &a.1)).await["active"], false);
    assert_eq!(revoke(at(&t0).to_owned()).await, 200);

    // Assert
    let resp = exchange(&app, (a.0, &a.1), at(&t0), "&audience=service-b").await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test]
async fn impersonation_only_where_the_policy_allows_it() {
    // Arrange: A may not impersonate; B may.
    let app = spawn_app().await;
    user(&app, "alice").await;
    let a = app_a(&app, policy(&["service-b"], &["orders:read"], false)).await;
    let b = service(
        &app,
        "service-b",
        policy(&["service-c"], &["orders:read"], true),
    )
    .await;
    let t0 = user_token(&app, (a.0, &a.1)).await;
    let b_own = app.client_credentials_token(b.0, &b.1, "").await;

    // Act
    let t1 = exchange_ok(&app, (a.0, &a.1), at(&t0), "&audience=service-b").await;
    let impersonated = exchange_ok(&app, (b.0, &b.1), at(&t0), "&audience=service-c").await;
    let delegated = exchange_ok(
        &app,
        (b.0, &b.1),
        at(&t0),
        &format!(
            "&audience=service-c&actor_token={}&actor_token_type={}",
            at(&b_own),
            urlencode(ACCESS)
        ),
    )
    .await;
    let impersonated_chain = exchange_ok(&app, (b.0, &b.1), at(&t1), "&audience=service-c").await;

    // Assert
    let (_, c1) = app.verify_jwt(at(&t1), "service-b").await;
    assert_eq!(c1["act"], json!({ "sub": "app-a" }), "A must name itself");
    let (_, ci) = app.verify_jwt(at(&impersonated), "service-c").await;
    assert!(ci.get("act").is_none(), "impersonation: {ci}");
    assert_eq!(ci["client_id"], "service-b");
    let (_, cd) = app.verify_jwt(at(&delegated), "service-c").await;
    assert_eq!(cd["act"], json!({ "sub": "service-b" }));
    // Impersonating keeps the delegation that came before.
    let (_, cc) = app.verify_jwt(at(&impersonated_chain), "service-c").await;
    assert_eq!(cc["act"], json!({ "sub": "app-a" }));
}

#[tokio::test]
async fn an_exchanged_token_does_not_outlive_its_subject_token() {
    // Arrange: user tokens live 3 s.
    let app = spawn_app_with(|s| s.tokens.access_token_ttl = 3).await;
    user(&app, "alice").await;
    let a = app_a(&app, policy(&["service-b"], &["orders:read"], false)).await;
    let t0 = user_token(&app, (a.0, &a.1)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // Act
    let t1 = exchange_ok(&app, (a.0, &a.1), at(&t0), "&audience=service-b").await;

    // Assert
    let (_, c0) = app.verify_jwt(at(&t0), &app.address).await;
    let (_, c1) = app.verify_jwt(at(&t1), "service-b").await;
    assert_eq!(c1["exp"], c0["exp"]);
    assert!(t1["expires_in"].as_u64().unwrap() <= 2, "{t1}");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let resp = exchange(&app, (a.0, &a.1), at(&t0), "&audience=service-b").await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test]
async fn an_operator_sets_and_removes_a_policy() {
    // Arrange
    let app = spawn_app().await;
    app.create_service_client("svc", &["svc"]).await;
    crate::flow::public_client(&app, "spa").await;

    // Act
    let set = set_policy(&app, "svc", policy(&["orders"], &["orders:read"], true)).await;
    let removed = set_policy(&app, "svc", policy(&[], &[], false)).await;
    let public = set_policy(&app, "spa", policy(&["orders"], &[], false)).await;

    // Assert
    let set = set.unwrap().unwrap();
    assert_eq!(set.audiences, ["orders"]);
    assert!(set.may_impersonate);
    assert!(removed.unwrap().is_none());
    let stored = latchkey::admin::clients::get(&app.store, "svc")
        .await
        .unwrap();
    assert!(stored.exchange.is_none());
    assert!(
        matches!(public, Err(AdminError::Invalid(_))),
        "public clients cannot exchange"
    );
}

async fn set_policy(
    app: &TestApp,
    id: &str,
    p: NewExchangePolicy,
) -> Result<Option<latchkey::oauth::model::ExchangePolicy>, AdminError> {
    latchkey::admin::exchange::set_policy(&app.store, id, &p).await
}

/// The checks a resource server or gateway makes of an access token: introspection (as
/// `caller`), userinfo, and the gateway endpoint. `true` when all three accept it.
async fn accepted_everywhere(app: &TestApp, token: &str, caller: (&str, &str)) -> bool {
    let active = app.introspect(token, caller).await["active"] == true;
    let userinfo = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status();
    let gateway = app
        .http
        .get(app.url("/forward-auth/orders"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(
        active,
        userinfo == 200,
        "introspection and userinfo disagree"
    );
    assert_eq!(
        active,
        gateway == 200,
        "introspection and forward-auth disagree"
    );
    active
}

/// A -> B -> C as in the chain test, with A keeping a refresh token: alice's token, A's
/// exchange for B and B's for C.
async fn chain_with_refresh(
    app: &TestApp,
) -> (
    (&'static str, String),
    (&'static str, String),
    Value,
    Value,
    Value,
) {
    let a_secret = app
        .create_client(NewClient {
            id: "app-a".into(),
            redirect_uris: vec![REDIRECT.into()],
            scopes: vec![USER_SCOPE.into()],
            first_party: true,
            always_issue_refresh_token: true,
            exchange: policy(
                &["service-b"],
                &["openid", "orders:read", "inventory:read"],
                false,
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    let a = ("app-a", a_secret);
    let b = service(
        app,
        "service-b",
        policy(&["service-c"], &["openid", "inventory:read"], false),
    )
    .await;
    let b = (b.0, b.1);
    let t0 = user_token(app, (a.0, &a.1)).await;
    assert!(t0["refresh_token"].is_string(), "{t0}");
    let t1 = exchange_ok(app, (a.0, &a.1), at(&t0), "&audience=service-b").await;
    let t2 = exchange_ok(app, (b.0, &b.1), at(&t1), "&audience=service-c").await;
    (a, b, t0, t1, t2)
}

#[tokio::test]
async fn exchanged_tokens_die_when_the_subjects_refresh_token_is_revoked() {
    // Arrange
    let app = spawn_app().await;
    user(&app, "alice").await;
    let (a, b, t0, t1, t2) = chain_with_refresh(&app).await;
    let caller = (a.0, a.1.as_str());
    assert!(accepted_everywhere(&app, at(&t1), caller).await);
    assert!(accepted_everywhere(&app, at(&t2), caller).await);

    // Act: A revokes alice's refresh token, which revokes her grant (RFC 7009 section 2.1).
    let body = format!(
        "token={}&token_type_hint=refresh_token",
        urlencode(t0["refresh_token"].as_str().unwrap())
    );
    assert_eq!(
        app.post_form("/revoke", &body, Some(caller)).await.status(),
        200
    );

    // Assert: both exchanged tokens, the second one exchanged from the first, are dead,
    // and cannot be exchanged further.
    assert!(!accepted_everywhere(&app, at(&t1), caller).await);
    assert!(!accepted_everywhere(&app, at(&t2), caller).await);
    let resp = exchange(&app, (b.0, &b.1), at(&t1), "&audience=service-c").await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}

#[tokio::test]
async fn exchanged_tokens_die_with_their_subjects_user() {
    // Arrange
    let app = spawn_app().await;
    user(&app, "alice").await;
    let (a, _b, _t0, t1, t2) = chain_with_refresh(&app).await;
    let caller = (a.0, a.1.as_str());

    // Act: the operator deletes alice, which revokes all her grants.
    latchkey::admin::users::delete(&app.store, "alice")
        .await
        .unwrap();

    // Assert (the server sees a revocation made outside it within its cache bound)
    assert!(
        app.eventually(|| async {
            !accepted_everywhere(&app, at(&t1), caller).await
                && !accepted_everywhere(&app, at(&t2), caller).await
        })
        .await
    );
}

#[tokio::test]
async fn an_exchange_racing_a_revocation_never_yields_a_live_token() {
    // Arrange
    let app = spawn_app().await;
    user(&app, "alice").await;
    let (a, _b, t0, _t1, _t2) = chain_with_refresh(&app).await;
    let caller = (a.0, a.1.as_str());
    let body = format!(
        "token={}&token_type_hint=refresh_token",
        urlencode(t0["refresh_token"].as_str().unwrap())
    );

    // Act: exchanges and the revocation of the grant at the same time.
    let ex = || exchange(&app, caller, at(&t0), "&audience=service-b");
    let (revoked, r1, r2, r3, r4) = tokio::join!(
        app.post_form("/revoke", &body, Some(caller)),
        ex(),
        ex(),
        ex(),
        ex()
    );
    assert_eq!(revoked.status(), 200);

    // Assert: whatever was issued is dead now.
    for resp in [r1, r2, r3, r4] {
        if resp.status() == 200 {
            let v: Value = resp.json().await.unwrap();
            assert_eq!(app.introspect(at(&v), caller).await["active"], false);
        } else {
            assert_oauth_error(resp, 400, "invalid_grant").await;
        }
    }
}

#[tokio::test]
async fn exchanged_tokens_die_when_the_person_disconnects_the_app() {
    // Arrange
    let app = spawn_app().await;
    user(&app, "alice").await;
    let (a, b, _t0, t1, t2) = chain_with_refresh(&app).await;
    let caller = (a.0, a.1.as_str());
    let browser = crate::account_page::signed_in(&app, "alice").await;

    // Act: alice withdraws her consent to app A on her account page.
    let done = crate::account_page::submit(
        &app,
        &browser,
        "/account/apps/revoke",
        &[("client_id", "app-a")],
    )
    .await;

    // Assert: the tokens A and B obtained for her by exchange end with it.
    assert_eq!(done.status, 303, "{done:?}");
    assert!(!accepted_everywhere(&app, at(&t1), caller).await);
    assert!(!accepted_everywhere(&app, at(&t2), caller).await);
    let resp = exchange(&app, (b.0, &b.1), at(&t1), "&audience=service-c").await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
}
