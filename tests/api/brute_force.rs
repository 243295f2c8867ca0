//! Guessing protection: failed sign-ins and failed client authentication are throttled per
//! (account or client, source address) with growing delays and a lock, and per account or
//! client at a much higher threshold that never locks out an address without failures.
//! Addresses are simulated with `X-Forwarded-For` from 127.0.0.1, configured as a proxy.
use latchkey::config::Settings;

use crate::flow::{Browser, PASSWORD, authorize_url, pkce, user, web_client};
use crate::helpers::{TestApp, assert_oauth_error, spawn_app_with};

fn behind_proxy(s: &mut Settings) {
    s.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    // No delays unless a test asks for them: these tests are about the locks.
    s.login.delay_after = 100;
    s.client_auth.delay_after = 100;
}

async fn login_page(app: &TestApp, browser: &Browser) -> crate::flow::Page {
    let (_, challenge) = pkce();
    browser
        .get(&authorize_url(app, "web", &challenge, ""))
        .await
}

#[tokio::test]
async fn a_locked_address_is_refused_even_the_right_password_but_another_address_is_not() {
    let app = spawn_app_with(|s| {
        behind_proxy(s);
        s.login.max_failures = 3;
    })
    .await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let attacker = Browser::from_address("203.0.113.7");
    let page = login_page(&app, &attacker).await;
    for _ in 0..2 {
        let wrong = attacker.login(&app, &page, "alice", "guess").await;
        assert_eq!(wrong.status, 200);
        assert!(wrong.body.contains("Incorrect username or password"));
    }
    // The failure that reaches the limit already says so.
    let locked = attacker.login(&app, &page, "alice", "guess").await;
    assert_eq!(locked.status, 429);
    assert!(locked.body.contains("locked for 15 min"), "{}", locked.body);
    let retry: u64 = locked.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((899..=900).contains(&retry), "{retry}");

    // The right password from the locked address: refused, no session.
    let sessions = app.count_rows("sessions").await;
    let refused = attacker.login(&app, &page, "alice", PASSWORD).await;
    assert_eq!(refused.status, 429);
    assert!(refused.body.contains("Even the right password is refused"));
    assert!(refused.location.is_none());
    assert_eq!(app.count_rows("sessions").await, sessions);

    // The real person at home is not locked out.
    let person = Browser::from_address("198.51.100.20");
    let page = login_page(&app, &person).await;
    let ok = person.login(&app, &page, "alice", PASSWORD).await;
    assert!(ok.is_consent(), "{ok:?}");
}

#[tokio::test]
async fn unknown_and_known_usernames_are_refused_alike() {
    let app = spawn_app_with(|s| {
        behind_proxy(s);
        s.login.max_failures = 2;
    })
    .await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let browser = Browser::from_address("203.0.113.8");
    let page = login_page(&app, &browser).await;
    let mut answers = Vec::new();
    for name in ["alice", "nobody"] {
        let first = browser.login(&app, &page, name, "guess").await;
        let second = browser.login(&app, &page, name, "guess").await;
        let third = browser.login(&app, &page, name, "guess").await;
        let message = |p: &crate::flow::Page| {
            let start = p.body.find("id=\"login-error\"").expect("an error message");
            p.body[start..]
                .split("</div>")
                .next()
                .unwrap_or("")
                .to_owned()
        };
        answers.push([
            (first.status, message(&first)),
            (second.status, message(&second)),
            (third.status, message(&third)),
        ]);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0][2].0, 429);
}

#[tokio::test]
async fn growing_delays_come_before_the_lock() {
    let app = spawn_app_with(|s| {
        behind_proxy(s);
        // No free failure: the first one already asks for 2 s. Failure times are kept to
        // the second, so a 2 s delay is between 1 and 2 s of real time: the next attempt is
        // refused even when the first one's password check ran slowly on a loaded machine.
        s.login.delay_after = 0;
        s.login.max_failures = 10;
    })
    .await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let browser = Browser::from_address("203.0.113.9");
    let page = login_page(&app, &browser).await;
    let first = browser.login(&app, &page, "alice", "guess").await;
    assert_eq!(first.status, 200);
    // One failure: the next attempt must wait, even with the right password.
    let too_soon = browser.login(&app, &page, "alice", PASSWORD).await;
    assert_eq!(too_soon.status, 429);
    let wait: u64 = too_soon.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    assert!(
        too_soon.body.contains(&format!("Wait {wait} s")),
        "{}",
        too_soon.body
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let ok = browser.login(&app, &page, "alice", PASSWORD).await;
    assert!(ok.is_consent(), "{ok:?}");
}

#[tokio::test]
async fn an_attack_from_many_addresses_locks_only_addresses_that_failed() {
    let app = spawn_app_with(|s| {
        behind_proxy(s);
        s.login.max_failures = 10;
        s.login.max_failures_all_addresses = 3;
    })
    .await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    for i in 1..=3 {
        let bot = Browser::from_address(&format!("203.0.113.{i}"));
        let page = login_page(&app, &bot).await;
        bot.login(&app, &page, "alice", "guess").await;
    }
    // Each attacking address now gets no further guess...
    let bot = Browser::from_address("203.0.113.1");
    let page = login_page(&app, &bot).await;
    assert_eq!(bot.login(&app, &page, "alice", PASSWORD).await.status, 429);
    // ...while the person from a clean address signs in.
    let person = Browser::from_address("198.51.100.20");
    let page = login_page(&app, &person).await;
    assert!(
        person
            .login(&app, &page, "alice", PASSWORD)
            .await
            .is_consent()
    );
}

async fn token_from(app: &TestApp, ip: &str, secret: &str) -> reqwest::Response {
    app.http
        .post(app.url("/token"))
        .header("x-forwarded-for", ip)
        .basic_auth("svc", Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn client_secret_guessing_is_throttled_per_address_without_locking_the_client_out() {
    let app = spawn_app_with(|s| {
        behind_proxy(s);
        s.client_auth.max_failures = 3;
    })
    .await;
    let secret = app.create_service_client("svc", &["a"]).await;
    for _ in 0..3 {
        let r = token_from(&app, "203.0.113.7", "wrong-secret-guess").await;
        assert_oauth_error(r, 401, "invalid_client").await;
    }
    // The right secret from the guessing address: the same answer as a wrong one.
    let r = token_from(&app, "203.0.113.7", &secret).await;
    let body = assert_oauth_error(r, 401, "invalid_client").await;
    assert_eq!(body["error_description"], "client authentication failed");
    // Introspection and revocation share the throttle.
    let r = app
        .http
        .post(app.url("/introspect"))
        .header("x-forwarded-for", "203.0.113.7")
        .basic_auth("svc", Some(&secret))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, 401, "invalid_client").await;

    // The service itself, from its own address, is unaffected, and its successes write
    // nothing (no throttle rows, no other rows).
    let failures = app.count_rows("login_failures").await;
    for _ in 0..5 {
        assert_eq!(token_from(&app, "10.1.2.3", &secret).await.status(), 200);
    }
    assert_eq!(app.count_rows("login_failures").await, failures);
}

#[tokio::test]
async fn unknown_client_ids_are_throttled_too() {
    let app = spawn_app_with(|s| {
        behind_proxy(s);
        s.client_auth.max_failures = 2;
    })
    .await;
    for _ in 0..4 {
        let r = app
            .http
            .post(app.url("/token"))
            .header("x-forwarded-for", "203.0.113.7")
            .basic_auth("ghost", Some("x"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_oauth_error(r, 401, "invalid_client").await;
    }
    // Refused attempts are not recorded: two failures, two keys each.
    assert_eq!(app.count_rows("login_failures").await, 4);
}
