//! A passkey as the second step after a password: offered on the second-step page with only
//! the person's own credentials, it completes the sign-in as a right code does (`amr` pwd +
//! hwk + user + mfa); someone with passkeys and no authenticator confirms with one where two
//! factors are required instead of enrolling; another person's passkey, a replayed answer
//! and a pending sign-in taken to another browser are refused and change nothing.
use std::collections::BTreeMap;

use latchkey::crypto::b64url;
use serde_json::{Value, json};

use super::authenticator::SoftKey;
use super::{amr, client, id_token_claims, login_page, passkey_app, register, signed_in, snapshot};
use crate::flow::{Browser, PASSWORD, Page, require_two_factors, user};
use crate::helpers::{TestApp, assert_oauth_error, urlencode};
use crate::two_factor::{enrol, is_code_page, is_enrol_page, settle_clock};

const OPTIONS: &str = "/login/second-factor/passkey/options";
const FORM: &str = "/login/second-factor/passkey";
const REFUSED: &str =
    "That passkey could not confirm it is you. Try again with one of your own passkeys.";
const EXPIRED: &str = "The passkey request has expired. Try again.";

/// The login page of a fresh request in `browser`, `username`'s password on it, and the
/// page after it; with the PKCE verifier.
async fn after_password(app: &TestApp, browser: &Browser, username: &str) -> (Page, Page, String) {
    let (login, verifier) = login_page(app, browser).await;
    let next = browser.login(app, &login, username, PASSWORD).await;
    (login, next, verifier)
}

fn offers_passkey(page: &Page) -> bool {
    page.status < 500 && page.body.contains(&format!("action=\"{FORM}\""))
}

/// Asks for the second-step options of `page` as `static/passkeys.js` does: its CSRF token
/// in `X-CSRF-Token`, its sealed pending sign-in in the JSON body.
async fn step_options(app: &TestApp, browser: &Browser, page: &Page) -> reqwest::Response {
    browser
        .http
        .post(app.url(OPTIONS))
        .header("content-type", "application/json")
        .header("x-csrf-token", page.input("csrf_token").unwrap())
        .body(json!({ "pending": page.input("pending").unwrap() }).to_string())
        .send()
        .await
        .unwrap()
}

async fn step_options_json(app: &TestApp, browser: &Browser, page: &Page) -> Value {
    let resp = step_options(app, browser, page).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// The page's passkey form, posted with `credential`.
fn form(page: &Page, credential: &str) -> Vec<(&'static str, String)> {
    vec![
        ("csrf_token", page.input("csrf_token").unwrap()),
        ("pending", page.input("pending").unwrap()),
        ("credential", credential.to_owned()),
    ]
}

async fn post_passkey(app: &TestApp, browser: &Browser, page: &Page, credential: &str) -> Page {
    let fields = form(page, credential);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.post(&app.url(FORM), &fields).await
}

/// `key`'s answer to `opts`, posted as the page's passkey form.
async fn answer(
    app: &TestApp,
    browser: &Browser,
    page: &Page,
    key: &mut SoftKey,
    opts: &Value,
) -> Page {
    let credential = key.assert(opts, &app.address).to_string();
    post_passkey(app, browser, page, &credential).await
}

/// The credential ids the options allow.
fn allowed(opts: &Value) -> Vec<String> {
    opts["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap_or_else(|| panic!("allowCredentials in {opts}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn sets_session(page: &Page) -> bool {
    page.headers.get_all("set-cookie").iter().any(|c| {
        c.to_str().unwrap().starts_with("latchkey_session=")
            && !c.to_str().unwrap().starts_with("latchkey_session=;")
    })
}

/// The second-step page again, saying `message`, and no session.
fn assert_page_again(page: &Page, message: &str) {
    assert_eq!(page.status, 400, "{page:?}");
    assert!(offers_passkey(page), "the second-step page again: {page:?}");
    assert!(page.body.contains(message), "{message} in {}", page.body);
    assert!(!sets_session(page), "no session: {page:?}");
}

/// A refused pending sign-in: the human error page, not the second-step page, no session.
fn assert_error_page(page: &Page) {
    assert_eq!(page.status, 400, "{page:?}");
    assert!(!offers_passkey(page), "{page:?}");
    assert!(page.body.contains("<html"), "a page for people: {page:?}");
    assert!(!sets_session(page), "no session: {page:?}");
}

#[tokio::test]
async fn a_passkey_after_the_password_signs_in_with_two_factors() {
    // Arrange: alice has a passkey and an authenticator.
    let app = passkey_app(|_| {}).await;
    let secret = client(&app).await;
    let alice = user(&app, "alice").await;
    let mut key = register(&app, &signed_in(&app, "alice").await, "Laptop").await;
    settle_clock(5).await;
    enrol(&app, "alice").await;

    // Act: the password, then "Use a passkey" on the second-step page.
    let browser = Browser::new();
    let sessions = app.count_rows("sessions").await;
    let (_, page, verifier) = after_password(&app, &browser, "alice").await;
    assert!(is_code_page(&page), "the code form: {page:?}");
    assert!(
        offers_passkey(&page),
        "and the passkey button: {}",
        page.body
    );
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!page.body.contains("<script>"), "no inline script");
    assert_eq!(app.count_rows("sessions").await, sessions);
    let opts = step_options_json(&app, &browser, &page).await;
    assert_eq!(allowed(&opts), vec![b64url(&key.id)], "only her passkey");
    assert_eq!(opts["publicKey"]["userVerification"], "required");
    let done = answer(&app, &browser, &page, &mut key, &opts).await;

    // Assert: back to the client with a code; the ID token says password + key + user + mfa.
    let claims = signed_in_with_both(&app, &secret, &done, &verifier).await;
    assert_eq!(claims["sub"], alice.as_str());
    assert!(!amr(&claims).contains("otp"), "{claims}");
    assert_eq!(app.count_rows("sessions").await, sessions + 1);
}

/// `done` is the redirect to the client after the second step, with a session; the ID token
/// of its code says password, device-bound key, user verified, two factors. Its claims.
async fn signed_in_with_both(app: &TestApp, secret: &str, done: &Page, verifier: &str) -> Value {
    assert_eq!(done.status, 303, "{done:?}");
    assert!(sets_session(done), "{done:?}");
    let claims = id_token_claims(app, secret, &done.callback()["code"], verifier).await;
    let amr = amr(&claims);
    for m in ["pwd", "hwk", "user", "mfa"] {
        assert!(amr.contains(m), "{m} in {amr:?}");
    }
    assert_eq!(claims["acr"], "urn:latchkey:acr:mfa");
    claims
}

#[tokio::test]
async fn passkeys_but_no_authenticator_where_two_factors_are_required_means_the_passkey_step() {
    let app = passkey_app(|_| {}).await;
    let secret = client(&app).await;
    user(&app, "alice").await;
    user(&app, "bob").await;
    let mut key = register(&app, &signed_in(&app, "alice").await, "Phone").await;
    require_two_factors(&app, "web").await;

    // alice: the passkey step only (no code form, no enrolment, no authenticator created).
    let browser = Browser::new();
    let (_, page, verifier) = after_password(&app, &browser, "alice").await;
    assert!(offers_passkey(&page), "{page:?}");
    assert!(!is_code_page(&page), "no code form: {}", page.body);
    assert!(!is_enrol_page(&page, "/login/enrol"), "{}", page.body);
    assert!(
        page.body
            .contains("Confirm it is you with one of your passkeys.")
    );
    assert_eq!(app.count_rows("totp_authenticators").await, 0);
    let opts = step_options_json(&app, &browser, &page).await;
    let done = answer(&app, &browser, &page, &mut key, &opts).await;
    signed_in_with_both(&app, &secret, &done, &verifier).await;

    // bob has neither: enrolment stays his path.
    let other = Browser::new();
    let (_, page, _) = after_password(&app, &other, "bob").await;
    assert!(is_enrol_page(&page, "/login/enrol"), "{page:?}");
    assert!(!offers_passkey(&page));
}

#[tokio::test]
async fn another_persons_passkey_is_refused_on_the_second_step() {
    let app = passkey_app(|_| {}).await;
    client(&app).await;
    user(&app, "alice").await;
    user(&app, "bob").await;
    let mut alices = register(&app, &signed_in(&app, "alice").await, "Alice's").await;
    let mut bobs = register(&app, &signed_in(&app, "bob").await, "Bob's").await;
    require_two_factors(&app, "web").await;

    // bob's second step: the options list his passkey only.
    let browser = Browser::new();
    let (_, page, _) = after_password(&app, &browser, "bob").await;
    let opts = step_options_json(&app, &browser, &page).await;
    assert_eq!(allowed(&opts), vec![b64url(&bobs.id)]);

    // alice's passkey answering them: refused, and nothing stored changes but the
    // ceremony, which any answer uses up.
    let before = snapshot(&app).await;
    let after_refusal = ceremony_used(before.clone());
    let refused = answer(&app, &browser, &page, &mut alices, &opts).await;
    assert_page_again(&refused, REFUSED);
    assert_eq!(
        snapshot(&app).await,
        after_refusal,
        "nothing else stored changed"
    );

    // A ceremony begun for alice's own pending sign-in, answered by her passkey, posted on
    // a page of bob's in the same browser: the ceremony is not bob's.
    let (_, hers, _) = after_password(&app, &browser, "alice").await;
    let her_opts = step_options_json(&app, &browser, &hers).await;
    let (_, page, _) = after_password(&app, &browser, "bob").await;
    let refused = answer(&app, &browser, &page, &mut alices, &her_opts).await;
    assert_page_again(&refused, EXPIRED);
    assert_eq!(
        snapshot(&app).await,
        after_refusal,
        "nothing else stored changed"
    );

    // bob's own passkey on the page shown again still completes his sign-in.
    let opts = step_options_json(&app, &browser, &refused).await;
    let done = answer(&app, &browser, &refused, &mut bobs, &opts).await;
    assert_eq!(done.status, 303, "{done:?}");
}

/// A snapshot (`super::snapshot`) with one passkey ceremony fewer.
fn ceremony_used(
    (mut counts, keys): (Vec<(&'static str, i64)>, Vec<String>),
) -> (Vec<(&'static str, i64)>, Vec<String>) {
    for (table, n) in &mut counts {
        if *table == "passkey_ceremonies" {
            *n -= 1;
        }
    }
    (counts, keys)
}

/// `name=value` of every cookie these responses set, later ones winning.
fn cookies_of(responses: &[&reqwest::header::HeaderMap]) -> String {
    let mut jar = BTreeMap::new();
    for headers in responses {
        for c in headers.get_all("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            jar.insert(name.to_owned(), value.to_owned());
        }
    }
    jar.iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn a_replayed_answer_and_a_pending_sign_in_in_another_browser_are_refused() {
    let app = passkey_app(|_| {}).await;
    client(&app).await;
    user(&app, "alice").await;
    let mut key = register(&app, &signed_in(&app, "alice").await, "Laptop").await;
    require_two_factors(&app, "web").await;
    let browser = Browser::new();
    let (login, page, _) = after_password(&app, &browser, "alice").await;

    // Another browser with alice's page fields (and its own CSRF cookie): neither options
    // nor the form get anywhere.
    let thief = Browser::new();
    let own = thief.get(&app.url("/signin")).await;
    let mut stolen = form(&page, "{}");
    stolen[0].1 = own.input("csrf_token").unwrap();
    let resp = thief
        .http
        .post(app.url(OPTIONS))
        .header("content-type", "application/json")
        .header("x-csrf-token", &stolen[0].1)
        .body(json!({ "pending": stolen[1].1 }).to_string())
        .send()
        .await
        .unwrap();
    assert_oauth_error(resp, 400, "invalid_request").await;
    let opts = step_options_json(&app, &browser, &page).await;
    let answer = key.assert(&opts, &app.address).to_string();
    stolen[2].1 = answer.clone();
    let before = snapshot(&app).await;
    let fields: Vec<(&str, &str)> = stolen.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_error_page(&thief.post(&app.url(FORM), &fields).await);
    // A pending sign-in that does not open (altered) is refused as well.
    let mut altered = form(&page, &answer);
    altered[1].1.replace_range(10..14, "AAAA");
    let fields: Vec<(&str, &str)> = altered.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_error_page(&browser.post(&app.url(FORM), &fields).await);
    assert_eq!(snapshot(&app).await, before, "nothing stored changed");

    // alice's own answer, captured with every cookie she held, signs in once ...
    let options = step_options(&app, &browser, &page).await;
    let cookies = cookies_of(&[&login.headers, &page.headers, options.headers()]);
    let opts: Value = options.json().await.unwrap();
    let answer = key.assert(&opts, &app.address).to_string();
    let body = form(&page, &answer)
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let send = || {
        app.http
            .post(app.url(FORM))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &cookies)
            .body(body.clone())
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 303, "the first use signs in");
    let after_first = snapshot(&app).await;

    // ... and not twice: the ceremony is used up.
    let again = send().await.unwrap();
    assert_eq!(again.status(), 400);
    let text = again.text().await.unwrap();
    assert!(text.contains(EXPIRED), "{text}");
    assert_eq!(
        snapshot(&app).await,
        after_first,
        "the replay stored nothing"
    );
}
