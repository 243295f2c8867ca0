//! Bearer tokens at `/forward-auth`: identity headers, RFC 6750 refusals, rules per host and
//! path prefix, and gateway headers that can only add demands.
use super::{check, gateway_app, header, rule, token};
use crate::helpers::spawn_app;

#[tokio::test]
async fn valid_token_gets_identity_headers_and_missing_token_the_bare_challenge() {
    let (app, secret) = gateway_app(|s| {
        s.forward_auth.rules = vec![rule(Some("api.example.com"), "/orders", &["read"])];
        s.forward_auth.claim_headers = [("client_id".to_owned(), "X-Token-Client".to_owned())]
            .into_iter()
            .collect();
    })
    .await;
    let t = token(&app, &secret, "read write").await;

    let ok = check(&app, "api.example.com", "/orders/7?x=1", Some(&t)).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(header(&ok, "x-auth-subject"), "svc");
    assert_eq!(header(&ok, "x-auth-client-id"), "svc");
    assert_eq!(header(&ok, "x-auth-scopes"), "read write");
    assert_eq!(header(&ok, "x-auth-method"), "token");
    assert_eq!(header(&ok, "x-token-client"), "svc");
    assert_eq!(header(&ok, "cache-control"), "no-store");

    let none = check(&app, "api.example.com", "/orders/7", None).await;
    assert_eq!(none.status(), 401);
    assert_eq!(
        header(&none, "www-authenticate"),
        "Bearer realm=\"latchkey\""
    );
    assert_eq!(header(&none, "x-auth-subject"), "");
}

#[tokio::test]
async fn bad_tokens_get_invalid_token() {
    let (app, secret) = gateway_app(|_| {}).await;
    let other = spawn_app().await;
    let other_secret = other.create_service_client("svc", &["read"]).await;
    let foreign = token(&other, &other_secret, "read").await;
    let revoked = token(&app, &secret, "read").await;
    let resp = app
        .post_form(
            "/revoke",
            &format!("token={revoked}"),
            Some(("svc", &secret)),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let good = token(&app, &secret, "read").await;
    let tampered = format!("{}x", &good[..good.len() - 1]);

    for (what, t) in [
        ("garbage", "not-a-jwt"),
        ("foreign", foreign.as_str()),
        ("revoked", revoked.as_str()),
        ("tampered", tampered.as_str()),
    ] {
        let resp = check(&app, "api.example.com", "/", Some(t)).await;
        assert_eq!(resp.status(), 401, "{what}");
        let challenge = header(&resp, "www-authenticate");
        assert!(
            challenge.starts_with("Bearer realm=\"latchkey\", error=\"invalid_token\""),
            "{what}: {challenge}"
        );
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token", "{what}");
    }
    // Another scheme, or a token in two headers, is no usable bearer token.
    let resp = app
        .http
        .get(app.url("/forward-auth"))
        .header("authorization", format!("Basic {good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(header(&resp, "www-authenticate").contains("invalid_token"));
}

#[tokio::test]
async fn expired_token_gets_invalid_token() {
    let (app, secret) = gateway_app(|s| s.tokens.access_token_ttl = 1).await;
    let t = token(&app, &secret, "read").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let resp = check(&app, "api.example.com", "/", Some(&t)).await;
    assert_eq!(resp.status(), 401);
    assert!(header(&resp, "www-authenticate").contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn longest_prefix_on_the_host_decides_the_scopes() {
    let (app, secret) = gateway_app(|s| {
        s.forward_auth.rules = vec![
            rule(None, "/", &[]),
            rule(Some("api.example.com"), "/admin", &["write"]),
            rule(Some("api.example.com"), "/admin/reports", &["read"]),
            rule(Some("other.example.com"), "/", &["write"]),
        ];
    })
    .await;
    let read = token(&app, &secret, "read").await;

    let cases = [
        ("api.example.com", "/admin", 403),
        ("api.example.com:8443", "/admin/users", 403),
        ("API.example.com", "/admin/reports/1", 200),
        ("api.example.com", "/adminx", 200),
        // Dot segments and escapes are judged as the upstream will see them.
        ("api.example.com", "/admin/reports/../users", 403),
        ("api.example.com", "/public/..%2F%61dmin", 403),
        ("other.example.com", "/anything", 403),
        ("third.example.com", "/admin", 200),
    ];
    // Bytes that are not UTF-8 do not hide the path.
    let resp = app
        .http
        .get(app.url("/forward-auth"))
        .header("x-forwarded-host", "api.example.com")
        .header(
            "x-forwarded-uri",
            reqwest::header::HeaderValue::from_bytes(b"/admin/\xff\xfe").unwrap(),
        )
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    for (host, uri, status) in cases {
        let resp = check(&app, host, uri, Some(&read)).await;
        assert_eq!(resp.status(), status, "{host}{uri}");
        if status == 403 {
            assert_eq!(
                header(&resp, "www-authenticate"),
                "Bearer realm=\"latchkey\", error=\"insufficient_scope\", error_description=\"the access token lacks a scope this route requires\", scope=\"write\"",
            );
        }
    }
}

#[tokio::test]
async fn gateway_headers_add_demands_and_never_remove_configured_ones() {
    let (app, secret) = gateway_app(|s| {
        s.tokens.default_audience = Some("https://orders.example.com".into());
        let mut r = rule(None, "/orders", &["read"]);
        r.audiences = vec!["https://orders.example.com".into()];
        s.forward_auth.rules = vec![r];
    })
    .await;
    let read = token(&app, &secret, "read").await;
    let both = token(&app, &secret, "read write").await;
    let send = |t: &str, name: &str, value: &str| {
        app.http
            .get(app.url("/forward-auth"))
            .header("x-forwarded-host", "api.example.com")
            .header("x-forwarded-uri", "/orders/1")
            .header(name, value)
            .bearer_auth(t)
            .send()
    };

    let resp = send(&read, "x-auth-require-scope", "write").await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(header(&resp, "www-authenticate").ends_with("scope=\"read write\""));
    assert_eq!(
        send(&both, "x-auth-require-scope", "write")
            .await
            .unwrap()
            .status(),
        200
    );
    // An empty or unrelated header does not lift the rule's `read`.
    let none = token(&app, &secret, "write").await;
    assert_eq!(
        send(&none, "x-auth-require-scope", "")
            .await
            .unwrap()
            .status(),
        403
    );
    // Audiences: the rule's is present; one the token lacks is refused as invalid_token.
    assert_eq!(
        send(
            &read,
            "x-auth-require-audience",
            "https://orders.example.com"
        )
        .await
        .unwrap()
        .status(),
        200
    );
    let resp = send(
        &read,
        "x-auth-require-audience",
        "https://billing.example.com",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(header(&resp, "www-authenticate").contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn audience_of_the_rule_is_required() {
    let (app, secret) = gateway_app(|s| {
        let mut r = rule(None, "/billing", &[]);
        r.audiences = vec!["https://billing.example.com".into()];
        s.forward_auth.rules = vec![r];
    })
    .await;
    // The token's audience is the issuer (no default audience configured).
    let t = token(&app, &secret, "read").await;
    let resp = check(&app, "api.example.com", "/billing", Some(&t)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        check(&app, "api.example.com", "/shop", Some(&t))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_caller_are_refused() {
    // No trusted proxies: the caller cannot pick a laxer rule with X-Forwarded-Uri, and a
    // gateway missing from http.trusted_proxies fails closed instead of being judged as "/".
    let app = crate::helpers::spawn_app_with(|s| {
        s.forward_auth.rules = vec![rule(None, "/", &[]), rule(None, "/admin", &["write"])];
    })
    .await;
    let secret = app.create_service_client("svc", &["read", "write"]).await;
    let read = token(&app, &secret, "read").await;
    for name in ["x-forwarded-uri", "x-forwarded-host"] {
        let resp = app
            .http
            .get(app.url("/forward-auth/admin/users"))
            .header(name, "/public")
            .bearer_auth(&read)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{name}");
        assert_eq!(header(&resp, "x-auth-subject"), "", "{name}");
    }
    // Envoy style: the path after /forward-auth, whatever the method.
    for method in [
        reqwest::Method::GET,
        reqwest::Method::POST,
        reqwest::Method::DELETE,
    ] {
        let resp = app
            .http
            .request(method.clone(), app.url("/forward-auth/admin/users?page=2"))
            .bearer_auth(&read)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{method}");
    }
    let resp = app
        .http
        .get(app.url("/forward-auth/public/page"))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
