//! Token exchange (RFC 8693) of access tokens from another issuer: a small issuer runs
//! inside the test (its own keys, its JWKS served on 127.0.0.1), Latchkey trusts it by
//! configuration, and a client whose policy names it exchanges its tokens. Every refusal is
//! `invalid_grant` and stores nothing.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::Header;
use latchkey::admin::exchange::NewExchangePolicy;
use latchkey::config::{Settings, SubjectMapping, TrustedIssuer};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_oauth_error, spawn_app_with, urlencode};
use crate::private_key_jwt::{ClientKey, ec_key, ed_key};

const PARTNER: &str = "https://partner.example";
const DIRECTORY: &str = "https://directory.example";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The other issuer: signs tokens with its keys and serves their public halves.
struct ForeignIssuer {
    jwks_uri: String,
    served: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl ForeignIssuer {
    async fn start(keys: &[&ClientKey]) -> Self {
        let served = Arc::new(Mutex::new(
            json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() }),
        ));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (state, count) = (served.clone(), fetches.clone());
        let router = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                count.fetch_add(1, Ordering::SeqCst);
                let doc = state.lock().unwrap().clone();
                async move { axum::Json(doc) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            jwks_uri: format!("http://127.0.0.1:{port}/jwks"),
            served,
            fetches,
        }
    }

    fn publish(&self, keys: &[&ClientKey]) {
        *self.served.lock().unwrap() =
            json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn trusted(&self, issuer: &str, subject: SubjectMapping) -> TrustedIssuer {
        TrustedIssuer {
            issuer: issuer.into(),
            jwks_uri: self.jwks_uri.parse().unwrap(),
            algorithms: vec!["ES256".into()],
            audience: Some("latchkey".into()),
            token_types: vec!["at+jwt".into()],
            subject,
            subject_prefix: (subject == SubjectMapping::Prefix).then(|| "partner:".into()),
            subject_claim: None,
        }
    }
}

/// Claims of a good access token of `iss` for Latchkey.
fn claims(iss: &str) -> Value {
    let now = latchkey::oauth::now();
    json!({ "iss": iss, "sub": "u-1234", "aud": ["latchkey", "other"], "iat": now,
            "nbf": now, "exp": now + 600, "scope": "orders:read admin",
            "preferred_username": "alice", "client_id": "partner-app" })
}

fn sign(key: &ClientKey, typ: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    header.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

fn policy(issuers: &[&str]) -> NewExchangePolicy {
    NewExchangePolicy {
        audiences: vec!["service-b".into()],
        scopes: vec!["orders:read".into()],
        may_impersonate: false,
        issuers: issuers.iter().map(|s| s.to_string()).collect(),
    }
}

/// A service client with `exchange` as its policy (as in `token_exchange.rs`).
async fn exchanger(
    app: &TestApp,
    id: &'static str,
    exchange: NewExchangePolicy,
) -> (String, String) {
    let (id, secret) = crate::token_exchange::service(app, id, exchange).await;
    (id.to_owned(), secret)
}

async fn exchange(app: &TestApp, client: &(String, String), subject: &str) -> reqwest::Response {
    let body = format!(
        "grant_type={}&subject_token={}&subject_token_type={}&audience=service-b",
        urlencode(GRANT),
        urlencode(subject),
        urlencode(ACCESS)
    );
    app.post_form("/token", &body, Some((&client.0, &client.1)))
        .await
}

async fn app_trusting(
    issuers: Vec<TrustedIssuer>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_app_with(|s| {
        s.token_exchange.trusted_issuers = issuers;
        configure(s);
    })
    .await
}

#[tokio::test]
async fn a_trusted_issuers_token_is_exchanged_with_a_prefixed_subject() {
    // Arrange
    let key = ec_key("p1");
    let partner = ForeignIssuer::start(&[&key]).await;
    let app = app_trusting(
        vec![partner.trusted(PARTNER, SubjectMapping::Prefix)],
        |_| {},
    )
    .await;
    let client = exchanger(&app, "gateway", policy(&[PARTNER])).await;
    let subject = claims(PARTNER);
    let token = sign(&key, Some("at+jwt"), &subject);

    // Act
    let resp = exchange(&app, &client, &token).await;

    // Assert
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["issued_token_type"], ACCESS);
    // The partner's admin scope is not in the policy, so it is not passed on.
    assert_eq!(body["scope"], "orders:read");
    let issued = body["access_token"].as_str().unwrap();
    let (_, c) = app.verify_jwt(issued, "service-b").await;
    assert_eq!(c["iss"], app.address);
    assert_eq!(c["sub"], "partner:u-1234");
    assert_eq!(c["client_id"], "gateway");
    assert_eq!(c["act"], json!({ "sub": "gateway" }));
    assert!(c["exp"].as_i64().unwrap() <= subject["exp"].as_i64().unwrap());
    let info = app.introspect(issued, (&client.0, &client.1)).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["sub"], "partner:u-1234");
    // Keys are cached: a second exchange fetches nothing.
    let again = exchange(&app, &client, &sign(&key, Some("at+jwt"), &claims(PARTNER))).await;
    assert_eq!(again.status(), 200);
    assert_eq!(partner.fetches(), 1);
}

#[tokio::test]
async fn a_subject_mapped_to_a_local_user_must_exist_here() {
    // Arrange: the directory's tokens name users by preferred_username.
    let key = ec_key("d1");
    let directory = ForeignIssuer::start(&[&key]).await;
    let app = app_trusting(
        vec![directory.trusted(DIRECTORY, SubjectMapping::LocalUser)],
        |_| {},
    )
    .await;
    let alice = crate::flow::user(&app, "alice").await;
    let client = exchanger(&app, "gateway", policy(&[DIRECTORY])).await;
    let mut stranger = claims(DIRECTORY);
    stranger["preferred_username"] = json!("mallory");
    let before = app.stored().await;

    // Act
    let known = exchange(
        &app,
        &client,
        &sign(&key, Some("at+jwt"), &claims(DIRECTORY)),
    )
    .await;
    let unknown = exchange(&app, &client, &sign(&key, Some("at+jwt"), &stranger)).await;

    // Assert
    assert_eq!(known.status(), 200);
    let body: Value = known.json().await.unwrap();
    let (_, c) = app
        .verify_jwt(body["access_token"].as_str().unwrap(), "service-b")
        .await;
    assert_eq!(c["sub"], alice);
    assert_oauth_error(unknown, 400, "invalid_grant").await;
    assert_eq!(app.stored().await, before, "no grant: nothing stored");
}

#[tokio::test]
async fn keys_are_fetched_again_for_an_unknown_kid_at_most_once_per_interval() {
    // Arrange: refetches allowed every second.
    let old = ec_key("old");
    let new = ec_key("new");
    let partner = ForeignIssuer::start(&[&old]).await;
    let app = app_trusting(
        vec![partner.trusted(PARTNER, SubjectMapping::Prefix)],
        |s| {
            s.keys.client_jwks_min_refetch = 1;
        },
    )
    .await;
    let client = exchanger(&app, "gateway", policy(&[PARTNER])).await;
    assert_eq!(
        exchange(&app, &client, &sign(&old, Some("at+jwt"), &claims(PARTNER)))
            .await
            .status(),
        200
    );

    // Act: once the interval has passed, the partner signs with a key it has not published
    // yet, twice; then publishes it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let unpublished = exchange(&app, &client, &sign(&new, Some("at+jwt"), &claims(PARTNER))).await;
    let again = exchange(&app, &client, &sign(&new, Some("at+jwt"), &claims(PARTNER))).await;
    let fetches_while_unknown = partner.fetches();
    partner.publish(&[&old, &new]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let rotated = exchange(&app, &client, &sign(&new, Some("at+jwt"), &claims(PARTNER))).await;

    // Assert: the unknown kid made one refetch, not one per token.
    assert_oauth_error(unpublished, 400, "invalid_grant").await;
    assert_oauth_error(again, 400, "invalid_grant").await;
    assert_eq!(fetches_while_unknown, 2);
    assert_eq!(rotated.status(), 200);
    assert_eq!(partner.fetches(), 3);
}

#[tokio::test]
async fn foreign_tokens_failing_any_check_are_refused_and_store_nothing() {
    // Arrange
    let key = ec_key("p1");
    let ed = ed_key("p-ed");
    let stranger_key = ec_key("p1"); // same kid, another key: a forged signature
    let partner = ForeignIssuer::start(&[&key, &ed]).await;
    let app = app_trusting(
        vec![partner.trusted(PARTNER, SubjectMapping::Prefix)],
        |_| {},
    )
    .await;
    let client = exchanger(&app, "gateway", policy(&[PARTNER])).await;
    let local_only = exchanger(&app, "local-only", policy(&[])).await;
    let good = |edit: &dyn Fn(&mut Value)| {
        let mut c = claims(PARTNER);
        edit(&mut c);
        c
    };
    let now = latchkey::oauth::now();
    let before = app.stored().await;
    let cases: Vec<(&str, String)> = vec![
        (
            "forged signature",
            sign(&stranger_key, Some("at+jwt"), &claims(PARTNER)),
        ),
        (
            "algorithm not allowed",
            sign(&ed, Some("at+jwt"), &claims(PARTNER)),
        ),
        ("typ JWT", sign(&key, Some("JWT"), &claims(PARTNER))),
        ("no typ", sign(&key, None, &claims(PARTNER))),
        (
            "expired",
            sign(&key, Some("at+jwt"), &good(&|c| c["exp"] = json!(now - 1))),
        ),
        (
            "no exp",
            sign(
                &key,
                Some("at+jwt"),
                &good(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
            ),
        ),
        (
            "nbf ahead",
            sign(
                &key,
                Some("at+jwt"),
                &good(&|c| c["nbf"] = json!(now + 600)),
            ),
        ),
        (
            "iat ahead",
            sign(
                &key,
                Some("at+jwt"),
                &good(&|c| c["iat"] = json!(now + 600)),
            ),
        ),
        (
            "other audience",
            sign(&key, Some("at+jwt"), &good(&|c| c["aud"] = json!("other"))),
        ),
        (
            "no sub",
            sign(&key, Some("at+jwt"), &good(&|c| c["sub"] = json!(""))),
        ),
        // Signed by the partner's key but claiming an issuer nobody configured.
        (
            "untrusted issuer",
            sign(&key, Some("at+jwt"), &claims("https://evil.example")),
        ),
    ];

    for (case, token) in cases {
        // Act
        let resp = exchange(&app, &client, &token).await;
        // Assert
        let body = assert_oauth_error(resp, 400, "invalid_grant").await;
        assert!(body.get("access_token").is_none(), "{case}: {body}");
    }
    // A client whose policy does not name the partner may not present its tokens, even
    // good ones; and one that names only the partner may not present Latchkey's.
    let good_token = sign(&key, Some("at+jwt"), &claims(PARTNER));
    let body = assert_oauth_error(
        exchange(&app, &local_only, &good_token).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains(PARTNER),
        "{body}"
    );
    let own = app
        .client_credentials_token(&local_only.0, &local_only.1, "")
        .await;
    let resp = exchange(&app, &client, own["access_token"].as_str().unwrap()).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
    assert_eq!(
        app.stored().await,
        before,
        "a refused exchange stores nothing"
    );
}

#[test]
fn trusted_issuers_that_cannot_work_are_refused_at_start() {
    let base = TrustedIssuer {
        issuer: PARTNER.into(),
        jwks_uri: "https://partner.example/jwks".parse().unwrap(),
        algorithms: vec!["ES256".into()],
        audience: None,
        token_types: vec!["at+jwt".into()],
        subject: SubjectMapping::Prefix,
        subject_prefix: Some("partner:".into()),
        subject_claim: None,
    };
    let check = |edit: &dyn Fn(&mut TrustedIssuer)| {
        let mut t = base.clone();
        edit(&mut t);
        let mut s = Settings::default();
        s.token_exchange.trusted_issuers = vec![t];
        s.validate()
    };
    assert!(check(&|_| {}).is_ok());
    assert!(
        check(&|t| t.algorithms = vec!["HS256".into()]).is_err(),
        "HMAC"
    );
    assert!(
        check(&|t| t.algorithms = vec!["none".into()]).is_err(),
        "none"
    );
    assert!(check(&|t| t.algorithms.clear()).is_err(), "no algorithm");
    assert!(
        check(&|t| t.jwks_uri = "http://partner.example/jwks".parse().unwrap()).is_err(),
        "http"
    );
    assert!(
        check(&|t| t.jwks_uri = "https://169.254.169.254/jwks".parse().unwrap()).is_err(),
        "metadata"
    );
    assert!(
        check(&|t| t.subject_prefix = None).is_err(),
        "prefix missing"
    );
    assert!(
        check(&|t| t.subject = SubjectMapping::AsIs).is_err(),
        "prefix without prefix mapping"
    );
    assert!(check(&|t| t.token_types.clear()).is_err(), "no typ");
    assert!(
        check(&|t| t.issuer = "http://127.0.0.1:8080".into()).is_err(),
        "own issuer"
    );
}
