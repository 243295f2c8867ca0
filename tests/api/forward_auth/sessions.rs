//! Browsers with a Latchkey session instead of a token: allowed, or sent to sign in and back
//! to the original URL, only on configured domains.
use latchkey::config::SessionPolicy;

use super::{gateway_app, rule};
use crate::flow::{Browser, sign_in_with_pkce, user, web_client};

fn configure(s: &mut latchkey::config::Settings) {
    let mut allow = rule(None, "/app", &["read"]);
    allow.session = SessionPolicy::Allow;
    let mut redirect = rule(None, "/portal", &[]);
    redirect.session = SessionPolicy::Redirect;
    s.forward_auth.rules = vec![rule(None, "/api", &[]), allow, redirect];
    s.forward_auth.sign_in_url = Some("https://login.example.com/start".parse().unwrap());
    s.forward_auth.allowed_redirect_domains = vec![".example.com".into()];
    s.forward_auth.claim_headers = [("email".to_owned(), "X-Auth-Email".to_owned())]
        .into_iter()
        .collect();
}

async fn get(browser: &Browser, url: &str, host: &str, uri: &str) -> crate::flow::Page {
    let resp = browser
        .http
        .get(url)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", host)
        .header("x-forwarded-uri", uri)
        .send()
        .await
        .unwrap();
    crate::flow::Page {
        status: resp.status().as_u16(),
        location: resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned()),
        headers: resp.headers().clone(),
        body: resp.text().await.unwrap(),
    }
}

#[tokio::test]
async fn session_is_allowed_where_a_rule_says_so() {
    let (app, _) = gateway_app(configure).await;
    web_client(&app, "web").await;
    let alice = user(&app, "alice").await;
    let browser = Browser::new();
    sign_in_with_pkce(&app, &browser, "web", "alice").await;
    let url = app.url("/forward-auth");

    let page = get(&browser, &url, "app.example.com", "/app/home").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["x-auth-subject"], alice.as_str());
    assert_eq!(page.headers["x-auth-method"], "session");
    assert_eq!(page.headers["x-auth-email"], "alice@example.com");
    // Where sessions are not allowed, the session counts for nothing.
    let page = get(&browser, &url, "app.example.com", "/api/orders").await;
    assert_eq!(page.status, 401);
    assert!(page.headers.get("x-auth-subject").is_none());
    // A browser without the session cookie is refused.
    let page = get(&Browser::new(), &url, "app.example.com", "/app/home").await;
    assert_eq!(page.status, 401);
}

#[tokio::test]
async fn browser_without_session_is_sent_to_sign_in_only_for_allowed_domains() {
    let (app, _) = gateway_app(configure).await;
    let browser = Browser::new();
    let url = app.url("/forward-auth");

    let page = get(&browser, &url, "portal.example.com", "/portal/a?b=c").await;
    assert_eq!(page.status, 302);
    let location = url::Url::parse(page.location.as_deref().unwrap()).unwrap();
    assert_eq!(location.host_str(), Some("login.example.com"));
    let rd: Vec<_> = location.query_pairs().collect();
    assert_eq!(rd.len(), 1);
    assert_eq!(rd[0].0, "rd");
    assert_eq!(rd[0].1, "https://portal.example.com/portal/a?b=c");

    // nginx asks for a 401 that still says where to go.
    let resp = browser
        .http
        .get(&url)
        .header("x-forwarded-host", "portal.example.com")
        .header("x-forwarded-uri", "/portal")
        .header("x-auth-redirect-status", "401")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["location"].to_str().unwrap().starts_with(
        "https://login.example.com/start?rd=https%3A%2F%2Fportal.example.com%2Fportal"
    ));

    // Hosts outside the allowed domains, and hosts that only look like them, get no redirect.
    for host in [
        "evil.test",
        "example.com.evil.test",
        "evilexample.com",
        "evil.test@portal.example.com:443/",
    ] {
        let page = get(&browser, &url, host, "/portal").await;
        assert_eq!(page.status, 401, "{host}");
        assert!(page.location.is_none(), "{host}");
    }
    // A protocol-relative or absolute URI is no path of the host.
    let page = get(&browser, &url, "portal.example.com", "//evil.test/portal").await;
    assert_ne!(page.status, 302);
}

#[tokio::test]
async fn id_token_is_no_access_token_and_the_user_access_token_names_the_user() {
    let (app, _) = gateway_app(configure).await;
    let secret = web_client(&app, "web").await;
    let alice = user(&app, "alice").await;
    let browser = Browser::new();
    let (q, verifier, _) = sign_in_with_pkce(&app, &browser, "web", "alice").await;
    let tokens: serde_json::Value =
        crate::flow::exchange(&app, ("web", &secret), &q["code"], &verifier)
            .await
            .json()
            .await
            .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();

    let resp = super::check(&app, "api.example.com", "/api/x", Some(id_token)).await;
    assert_eq!(resp.status(), 401);
    assert!(super::header(&resp, "www-authenticate").contains("error=\"invalid_token\""));

    let resp = super::check(&app, "api.example.com", "/api/x", Some(access_token)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(super::header(&resp, "x-auth-subject"), alice);
    assert_eq!(super::header(&resp, "x-auth-client-id"), "web");
    assert!(super::header(&resp, "x-auth-scopes").contains("openid"));
}
