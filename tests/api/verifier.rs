//! The `latchkey-verify` crate against the real server: tokens from the token endpoint are
//! checked locally, bad ones refused with the right error, keys followed through rotation,
//! and the example service's routes answer per RFC 6750.
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use latchkey::admin::clients::NewClient;
use latchkey_verify::{Verifier, VerifierConfig, VerifyError};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

#[allow(dead_code)]
#[path = "../../verify/examples/service.rs"]
mod example_service;

const ORDERS: &str = "https://orders.example";

fn verifier(app: &TestApp, adjust: impl FnOnce(&mut VerifierConfig)) -> Verifier {
    let mut c = VerifierConfig::new(app.address.clone(), ORDERS);
    adjust(&mut c);
    Verifier::new(c)
}

/// A client_credentials client `id` with the given scopes and access-token algorithm.
async fn service(app: &TestApp, id: &str, scopes: &[&str], alg: Option<&str>) -> String {
    app.create_client(NewClient {
        id: id.into(),
        grant_types: vec!["client_credentials".into()],
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        access_token_alg: alg.map(str::to_owned),
        ..Default::default()
    })
    .await
    .expect("generated secret")
}

async fn token(app: &TestApp, id: &str, secret: &str, scope: &str, resource: &str) -> String {
    let extra = format!(
        "&scope={scope}&resource={}",
        crate::helpers::urlencode(resource)
    );
    let t = app.client_credentials_token(id, secret, &extra).await;
    t["access_token"].as_str().unwrap().to_owned()
}

/// A token with its header replaced (the signature no longer matters to the checks under test).
fn with_header(token: &str, header: Value) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", B64.encode(header.to_string()))
}

fn header_of(token: &str) -> Value {
    let h = token.split('.').next().unwrap();
    serde_json::from_slice(&B64.decode(h).unwrap()).unwrap()
}

#[tokio::test]
async fn tokens_of_every_signing_algorithm_verify_with_their_claims() {
    let app = spawn_app().await;
    let v = verifier(&app, |_| {});
    for (id, alg) in [("rs", "RS256"), ("es", "ES256"), ("ed", "EdDSA")] {
        let secret = service(&app, id, &["orders:read", "orders:write"], Some(alg)).await;
        let t = token(&app, id, &secret, "orders:read", ORDERS).await;
        assert_eq!(header_of(&t)["alg"], alg);

        let claims = v.verify(&t).await.expect("verifies");

        assert_eq!(claims.sub, id);
        assert_eq!(claims.client_id, id);
        assert_eq!(claims.scopes, ["orders:read"]);
        claims.require_scopes(&["orders:read"]).unwrap();
        assert_eq!(claims.all["iss"], app.address);
    }
    assert_eq!(v.jwks_fetches(), 1, "the JWKS is fetched once and cached");
}

#[tokio::test]
async fn wrong_audience_missing_scope_tampering_and_bad_headers_are_refused() {
    let app = spawn_app().await;
    let v = verifier(&app, |_| {});
    let secret = service(&app, "svc", &["orders:read", "orders:write"], None).await;
    let good = token(&app, "svc", &secret, "orders:read", ORDERS).await;
    v.verify(&good).await.expect("the good token verifies");

    let billing = token(
        &app,
        "svc",
        &secret,
        "orders:read",
        "https://billing.example",
    )
    .await;
    assert_eq!(
        v.verify(&billing).await.unwrap_err(),
        VerifyError::WrongAudience
    );

    let write_only = token(&app, "svc", &secret, "orders:write", ORDERS).await;
    let claims = v.verify(&write_only).await.unwrap();
    let err = claims.require_scopes(&["orders:read"]).unwrap_err();
    assert_eq!(
        err,
        VerifyError::InsufficientScope {
            required: vec!["orders:read".into()]
        }
    );
    assert_eq!(err.status(), 403);

    // A flipped signature byte, and a payload swapped for another token's.
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 5;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        v.verify(&tampered).await.unwrap_err(),
        VerifyError::BadSignature
    );
    let parts: Vec<&str> = good.split('.').collect();
    let other: Vec<&str> = write_only.split('.').collect();
    let spliced = format!("{}.{}.{}", parts[0], other[1], parts[2]);
    assert_eq!(
        v.verify(&spliced).await.unwrap_err(),
        VerifyError::BadSignature
    );

    let h = header_of(&good);
    let kid = h["kid"].clone();
    let cases = [
        (
            json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
            VerifyError::Malformed,
        ),
        (
            json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}),
            VerifyError::DisallowedAlgorithm,
        ),
        // An RSA key named with another algorithm: the JWK and the header must agree.
        (
            json!({"alg": "ES256", "typ": "at+jwt", "kid": kid}),
            VerifyError::DisallowedAlgorithm,
        ),
        (
            json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
            VerifyError::WrongType,
        ),
        (json!({"alg": "RS256", "kid": kid}), VerifyError::WrongType),
        (
            json!({"alg": "RS256", "typ": "at+jwt"}),
            VerifyError::UnknownKey,
        ),
    ];
    for (header, want) in cases {
        let forged = with_header(&good, header.clone());
        assert_eq!(v.verify(&forged).await.unwrap_err(), want, "{header}");
    }
    assert_eq!(
        v.verify("not a jwt").await.unwrap_err(),
        VerifyError::Malformed
    );

    // A verifier allowing only EdDSA refuses the RS256 token before any key is used.
    let ed_only = verifier(&app, |c| c.algorithms = vec![latchkey_verify::Alg::EdDSA]);
    assert_eq!(
        ed_only.verify(&good).await.unwrap_err(),
        VerifyError::DisallowedAlgorithm
    );
}

#[tokio::test]
async fn expired_tokens_are_refused_after_the_leeway() {
    let app = spawn_app_with(|s| s.tokens.access_token_ttl = 1).await;
    let strict = verifier(&app, |c| c.leeway = Duration::ZERO);
    let lenient = verifier(&app, |c| c.leeway = Duration::from_secs(60));
    let secret = service(&app, "svc", &["orders:read"], None).await;
    let t = token(&app, "svc", &secret, "orders:read", ORDERS).await;

    tokio::time::sleep(Duration::from_millis(2100)).await;

    assert_eq!(strict.verify(&t).await.unwrap_err(), VerifyError::Expired);
    lenient.verify(&t).await.expect("within the leeway");
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let app = spawn_app().await;
    let other = spawn_app().await;
    let secret = service(&other, "svc", &["orders:read"], None).await;
    let foreign = token(&other, "svc", &secret, "orders:read", ORDERS).await;

    let v = verifier(&app, |_| {});
    assert_eq!(
        v.verify(&foreign).await.unwrap_err(),
        VerifyError::UnknownKey
    );

    // The same token verifies for a service that trusts the other issuer.
    let trusting_other = Verifier::new(VerifierConfig::new(other.address.clone(), ORDERS));
    trusting_other
        .verify(&foreign)
        .await
        .expect("its own issuer");
    // An issuer whose discovery document names another issuer is not trusted at all.
    let misnamed = Verifier::new(VerifierConfig::new(format!("{}/", other.address), ORDERS));
    assert!(matches!(
        misnamed.verify(&foreign).await.unwrap_err(),
        VerifyError::KeysUnavailable(_)
    ));
}

#[tokio::test]
async fn after_emergency_rotation_the_new_kid_triggers_one_refetch() {
    let app = spawn_app().await;
    let v = verifier(&app, |c| c.refetch_interval = Duration::from_secs(1));
    let secret = service(&app, "svc", &["orders:read"], None).await;
    let before = token(&app, "svc", &secret, "orders:read", ORDERS).await;
    v.verify(&before).await.unwrap();
    assert_eq!(v.jwks_fetches(), 1);

    // What `latchkey keys rotate --emergency` does; the server reloads keys every second.
    let master = latchkey::crypto::MasterKey::from_base64(&app.master_key).unwrap();
    latchkey::keys::emergency_rotate_keys(&app.store, &master)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = token(&app, "svc", &secret, "orders:read", ORDERS).await;
    assert_ne!(header_of(&before)["kid"], header_of(&after)["kid"]);

    v.verify(&after).await.expect("the new key is fetched");
    assert_eq!(v.jwks_fetches(), 2);
    v.verify(&after).await.unwrap();
    assert_eq!(v.jwks_fetches(), 2, "and then cached");
    // The withdrawn key is gone from the refetched set.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        v.verify(&before).await.unwrap_err(),
        VerifyError::UnknownKey
    );
}

#[tokio::test]
async fn unknown_kids_share_one_rate_limited_refetch() {
    let app = spawn_app().await;
    let v = verifier(&app, |c| c.refetch_interval = Duration::from_secs(1));
    let secret = service(&app, "svc", &["orders:read"], None).await;
    let good = token(&app, "svc", &secret, "orders:read", ORDERS).await;
    v.verify(&good).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let forged: Vec<String> = (0..20)
        .map(|_| {
            let kid = uuid::Uuid::new_v4().to_string();
            with_header(&good, json!({"alg": "RS256", "typ": "at+jwt", "kid": kid}))
        })
        .collect();
    let results = futures_join(&v, &forged).await;
    assert!(results.iter().all(|r| *r == Err(VerifyError::UnknownKey)));
    assert_eq!(v.jwks_fetches(), 2, "twenty concurrent misses, one fetch");
    for f in &forged {
        assert_eq!(v.verify(f).await.unwrap_err(), VerifyError::UnknownKey);
    }
    assert_eq!(v.jwks_fetches(), 2, "no refetch within the interval");
    v.verify(&good).await.expect("known keys still verify");
}

async fn futures_join(v: &Verifier, tokens: &[String]) -> Vec<Result<(), VerifyError>> {
    let handles: Vec<_> = tokens
        .iter()
        .map(|t| {
            let (v, t) = (v.clone(), t.clone());
            tokio::spawn(async move { v.verify(&t).await.map(|_| ()) })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn the_jwks_max_age_decides_when_keys_are_refetched() {
    let app = spawn_app_with(|s| s.keys.jwks_max_age = 1).await;
    let v = verifier(&app, |c| {
        c.min_cache = Duration::from_secs(1);
        c.refetch_interval = Duration::ZERO;
    });
    let secret = service(&app, "svc", &["orders:read"], None).await;
    let t = token(&app, "svc", &secret, "orders:read", ORDERS).await;
    v.verify(&t).await.unwrap();
    v.verify(&t).await.unwrap();
    assert_eq!(v.jwks_fetches(), 1);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    v.verify(&t).await.unwrap();
    assert_eq!(v.jwks_fetches(), 2, "stale after max-age");
}

#[tokio::test]
async fn the_example_service_answers_per_rfc6750() {
    let app = spawn_app().await;
    let v = verifier(&app, |_| {});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, example_service::app(v)).await });
    let secret = service(&app, "svc", &["orders:read", "orders:write"], None).await;
    let read = token(&app, "svc", &secret, "orders:read", ORDERS).await;
    let write = token(&app, "svc", &secret, "orders:write", ORDERS).await;
    let get = |path: &str, bearer: Option<&str>| {
        let mut r = app.http.get(format!("{base}{path}"));
        if let Some(b) = bearer {
            r = r.bearer_auth(b);
        }
        r.send()
    };
    let challenge =
        |r: &reqwest::Response| r.headers()["www-authenticate"].to_str().unwrap().to_owned();

    let r = get("/orders", None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(challenge(&r), format!("Bearer realm=\"{ORDERS}\""));

    let r = get("/orders", Some(&write)).await.unwrap();
    assert_eq!(r.status(), 403);
    let c = challenge(&r);
    assert!(c.contains("error=\"insufficient_scope\""), "{c}");
    assert!(c.contains("scope=\"orders:read\""), "{c}");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "insufficient_scope"
    );

    let r = get("/orders", Some(&format!("{read}x"))).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("error=\"invalid_token\""));

    let r = get("/orders", Some(&read)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["for"], "svc");

    // The extractor alone: any valid token, whatever its scopes.
    let r = get("/me", Some(&write)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["scopes"],
        json!(["orders:write"])
    );
    let r = get("/me", None).await.unwrap();
    assert_eq!(r.status(), 401);
}
