//! Passkeys over HTTP with a software authenticator: registration and sign-in work, and
//! every answer that must be refused is refused with a human error (or `invalid_request`
//! JSON), never a 500, and changes nothing stored.
use serde_json::Value;

use super::authenticator::{BE, SoftKey, UP, UV};
use super::{
    account_page, amr, attempt, client, id_token_claims, login_page, options, passkey_app,
    post_assertion, register, sign_in_options, signed_in, snapshot,
};
use crate::flow::{Browser, Page, user};
use crate::helpers::{TestApp, assert_oauth_error};

const EXPIRED: &str = "The passkey request has expired. Try again.";
const REFUSED: &str =
    "That passkey cannot sign you in here. Try again, or sign in with your password.";

/// The id of the first passkey listed on an account page.
fn first_passkey_id(page: &Page) -> String {
    let start = page
        .body
        .find("data-passkey-id=\"")
        .expect("a listed passkey")
        + 17;
    let end = page.body[start..].find('"').unwrap() + start;
    page.body[start..end].to_owned()
}

fn assert_refused(page: &Page, message: &str) {
    assert_eq!(page.status, 400, "{page:?}");
    assert!(
        page.body.contains("action=\"/login\""),
        "the login page again: {page:?}"
    );
    assert!(page.body.contains(message), "{message} in {}", page.body);
    let cookies: Vec<_> = page.headers.get_all("set-cookie").iter().collect();
    assert!(
        !cookies
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("latchkey_session=")
                && !c.to_str().unwrap().starts_with("latchkey_session=;")),
        "no session cookie: {cookies:?}"
    );
}

#[tokio::test]
async fn a_passkey_from_the_account_page_signs_in_without_a_username() {
    // Arrange: alice signs in with her password and registers a passkey.
    let app = passkey_app(|_| {}).await;
    let secret = client(&app).await;
    let alice = user(&app, "alice").await;
    let browser = signed_in(&app, "alice").await;
    let mut key = register(&app, &browser, "Work laptop").await;
    let page = account_page(&app, &browser).await;
    assert!(page.body.contains("Work laptop"), "{}", page.body);
    assert!(page.body.contains("Passkey added.") || page.status == 200);

    // Act: another browser, no session, no username: the passkey button.
    let other = Browser::new();
    let (login, verifier) = login_page(&app, &other).await;
    assert!(
        login.body.contains("action=\"/login/passkey\""),
        "{}",
        login.body
    );
    assert!(login.body.contains("autocomplete=\"username webauthn\""));
    let opts = sign_in_options(&app, &other, &login).await;
    assert!(
        opts["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "discoverable: no credentials listed: {opts}"
    );
    let assertion = key.assert(&opts, &app.address);
    let done = post_assertion(&app, &other, &login, &assertion.to_string()).await;

    // Assert: signed in as alice, straight back to the client (consent was given before),
    // with amr saying: a device-bound key, the user verified, two factors.
    assert_eq!(done.status, 303, "{done:?}");
    let callback = done.callback();
    let claims = id_token_claims(&app, &secret, &callback["code"], &verifier).await;
    assert_eq!(claims["sub"], alice.as_str());
    let amr = amr(&claims);
    for m in ["hwk", "user", "mfa"] {
        assert!(amr.contains(m), "{m} in {amr:?}");
    }
    assert!(!amr.contains("pwd"), "{amr:?}");
    let page = account_page(&app, &browser).await;
    assert!(
        !page.body.contains("Last used never"),
        "last use recorded: {}",
        page.body
    );
}

#[tokio::test]
async fn a_synced_passkey_is_a_software_key() {
    let app = passkey_app(|_| {}).await;
    let secret = client(&app).await;
    user(&app, "alice").await;
    let browser = signed_in(&app, "alice").await;
    let mut key = super::register_with_flags(&app, &browser, "Phone", UP | UV | BE).await;

    let (login, verifier) = login_page(&app, &browser).await;
    let opts = sign_in_options(&app, &browser, &login).await;
    let done = post_assertion(
        &app,
        &browser,
        &login,
        &key.assert(&opts, &app.address).to_string(),
    )
    .await;

    let claims = id_token_claims(&app, &secret, &done.callback()["code"], &verifier).await;
    let amr = amr(&claims);
    assert!(amr.contains("swk") && !amr.contains("hwk"), "{amr:?}");
}

#[tokio::test]
async fn unknown_expired_replayed_and_malformed_answers_are_refused() {
    let app = passkey_app(|s| s.passkeys.ceremony_ttl = 2).await;
    client(&app).await;
    user(&app, "alice").await;
    let browser = signed_in(&app, "alice").await;
    let mut key = register(&app, &browser, "Laptop").await;
    let other = Browser::new();

    // No ceremony at all: this browser never asked for options.
    let (login, _) = login_page(&app, &other).await;
    let fake = serde_json::json!({"publicKey": {"challenge": "AAAAAAAAAAAAAAAAAAAAAA"}});
    let before = snapshot(&app).await;
    let page = post_assertion(
        &app,
        &other,
        &login,
        &key.assert(&fake, &app.address).to_string(),
    )
    .await;
    assert_refused(&page, EXPIRED);
    assert_eq!(snapshot(&app).await, before);

    // Malformed JSON: refused, and the ceremony is used up with it.
    let opts = sign_in_options(&app, &other, &login).await;
    let page = post_assertion(&app, &other, &login, "{\"id\": 12").await;
    assert_refused(&page, REFUSED);
    let page = post_assertion(
        &app,
        &other,
        &login,
        &key.assert(&opts, &app.address).to_string(),
    )
    .await;
    assert_refused(&page, EXPIRED);
    assert_eq!(snapshot(&app).await, before);

    // Expired: answered after passkeys.ceremony_ttl. The browser has dropped the ceremony
    // cookie by then, so the expired ceremony stays for the cleanup to delete.
    let opts = sign_in_options(&app, &other, &login).await;
    let with_ceremony = snapshot(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let page = post_assertion(
        &app,
        &other,
        &login,
        &key.assert(&opts, &app.address).to_string(),
    )
    .await;
    assert_refused(&page, EXPIRED);
    assert_eq!(snapshot(&app).await, with_ceremony);

    // Replayed: the same answer with the same ceremony cookie, after it signed in once.
    let mut replayer = Replayer::new(&app).await;
    let opts = replayer.options().await;
    let answer = key.assert(&opts, &app.address).to_string();
    let first = replayer.post(&answer).await;
    assert_eq!(first.status(), 303, "the first use signs in");
    let after_first = snapshot(&app).await;
    let again = replayer.post(&answer).await;
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains(EXPIRED));
    assert_eq!(
        snapshot(&app).await,
        after_first,
        "the replay stored nothing"
    );
}

#[tokio::test]
async fn forged_answers_are_refused_and_change_nothing() {
    let app = passkey_app(|_| {}).await;
    client(&app).await;
    user(&app, "alice").await;
    let browser = signed_in(&app, "alice").await;
    let mut key = register(&app, &browser, "Laptop").await;
    let other = Browser::new();
    let (login, _) = login_page(&app, &other).await;
    let before = snapshot(&app).await;

    // Another origin (a phishing site): clientDataJSON.origin does not match.
    let opts = sign_in_options(&app, &other, &login).await;
    let port = url::Url::parse(&app.address).unwrap().port().unwrap();
    let evil = format!("http://evil.localhost:{port}");
    let page = post_assertion(&app, &other, &login, &key.assert(&opts, &evil).to_string()).await;
    assert_refused(&page, REFUSED);

    // Signed by another key under the same credential id.
    let opts = sign_in_options(&app, &other, &login).await;
    let (impostor, _) = SoftKey::create(&registration_like(&key), &app.address);
    let mut forged = SoftKey {
        id: key.id.clone(),
        ..impostor
    };
    let page = post_assertion(
        &app,
        &other,
        &login,
        &forged.assert(&opts, &app.address).to_string(),
    )
    .await;
    assert_refused(&page, REFUSED);

    // For another relying party id (its hash in the authenticator data).
    let rp_id = std::mem::replace(&mut key.rp_id, "example.com".into());
    let page = attempt(&app, &other, &login, |opts| key.assert(opts, &app.address)).await;
    assert_refused(&page, REFUSED);
    key.rp_id = rp_id;

    // A user handle that is not the one the credential was registered with.
    let handle = std::mem::replace(&mut key.user_handle, vec![7; 16]);
    let page = attempt(&app, &other, &login, |opts| key.assert(opts, &app.address)).await;
    assert_refused(&page, REFUSED);
    key.user_handle = handle;

    // No user verification: a passkey must verify its user.
    key.flags = UP;
    let page = attempt(&app, &other, &login, |opts| key.assert(opts, &app.address)).await;
    assert_refused(&page, REFUSED);

    assert_eq!(snapshot(&app).await, before, "nothing stored changed");
}

#[tokio::test]
async fn a_counter_that_goes_backwards_is_refused() {
    let app = passkey_app(|_| {}).await;
    client(&app).await;
    user(&app, "alice").await;
    let browser = signed_in(&app, "alice").await;
    let key = register(&app, &browser, "Security key").await;
    let other = Browser::new();

    let (login, _) = login_page(&app, &other).await;
    let page = attempt(&app, &other, &login, |opts| {
        key.assert_with_counter(opts, &app.address, 5)
    })
    .await;
    assert_eq!(page.status, 303, "counter 5 after 0: {page:?}");
    let before = snapshot(&app).await;

    // A clone answering with an older counter.
    let (login, _) = login_page(&app, &other).await;
    let page = attempt(&app, &other, &login, |opts| {
        key.assert_with_counter(opts, &app.address, 3)
    })
    .await;
    assert_refused(&page, REFUSED);
    let page = attempt(&app, &other, &login, |opts| {
        key.assert_with_counter(opts, &app.address, 5)
    })
    .await;
    assert_refused(&page, REFUSED);
    assert_eq!(
        snapshot(&app).await,
        before,
        "the stored counter stays at 5"
    );

    // The real authenticator, counting on.
    let page = attempt(&app, &other, &login, |opts| {
        key.assert_with_counter(opts, &app.address, 6)
    })
    .await;
    assert_eq!(page.status, 303, "{page:?}");
}

#[tokio::test]
async fn registration_refusals_store_nothing() {
    let app = passkey_app(|_| {}).await;
    client(&app).await;
    user(&app, "alice").await;
    let browser = signed_in(&app, "alice").await;
    let page = account_page(&app, &browser).await;
    let csrf = page.input("csrf_token").unwrap();
    let before = snapshot(&app).await;

    // Options without the page's CSRF token: invalid_request JSON.
    let resp = options(&app, &browser, "/account/passkeys/options", "forged").await;
    assert_oauth_error(resp, 400, "invalid_request").await;
    // Without a session: nothing to register for.
    let stranger = Browser::new();
    let resp = options(&app, &stranger, "/account/passkeys/options", &csrf).await;
    assert_eq!(resp.status(), 400);

    // A credential made for another origin.
    let opts: Value = options(&app, &browser, "/account/passkeys/options", &csrf)
        .await
        .json()
        .await
        .unwrap();
    let (_, credential) = SoftKey::create(&opts, "http://evil.localhost");
    let page = post_registration(&browser, &app, &csrf, "Evil", &credential.to_string()).await;
    assert_eq!(page.status, 400, "{page:?}");
    assert!(
        page.body
            .contains("The passkey could not be added. Try again.")
    );

    // Malformed, and with no ceremony (used up by the refusal above).
    let page = post_registration(&browser, &app, &csrf, "Broken", "[]").await;
    assert_eq!(page.status, 400);
    assert!(
        page.body
            .contains("The request to add a passkey has expired. Try again.")
    );

    // A name that is too long is refused before the ceremony is looked at.
    let page = post_registration(&browser, &app, &csrf, &"x".repeat(65), "{}").await;
    assert_eq!(page.status, 400);
    assert!(
        page.body
            .contains("Give the passkey a name of 1 to 64 characters.")
    );

    // The form without its CSRF token.
    let page = browser
        .post(
            &app.url("/account/passkeys"),
            &[("name", "x"), ("credential", "{}")],
        )
        .await;
    assert_eq!(page.status, 403);

    assert_eq!(snapshot(&app).await, before, "nothing stored");

    // The same authenticator registered twice: refused the second time.
    let key = super::register(&app, &browser, "Laptop").await;
    let opts: Value = options(&app, &browser, "/account/passkeys/options", &csrf)
        .await
        .json()
        .await
        .unwrap();
    let excluded: Vec<_> = opts["publicKey"]["excludeCredentials"]
        .as_array()
        .expect("excludeCredentials")
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(excluded, vec![latchkey::crypto::b64url(&key.id)]);
    assert_eq!(
        opts["publicKey"]["authenticatorSelection"]["residentKey"],
        "required"
    );
    assert_eq!(
        opts["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
}

#[tokio::test]
async fn passkeys_are_renamed_and_removed_only_by_their_owner() {
    let app = passkey_app(|_| {}).await;
    client(&app).await;
    user(&app, "alice").await;
    user(&app, "bob").await;
    let alice = signed_in(&app, "alice").await;
    let bob = signed_in(&app, "bob").await;
    let mut key = register(&app, &alice, "Laptop").await;
    let id = first_passkey_id(&account_page(&app, &alice).await);
    let bob_csrf = account_page(&app, &bob).await.input("csrf_token").unwrap();
    let before = snapshot(&app).await;

    // Bob cannot touch Alice's passkey.
    let page = bob
        .post(
            &app.url(&format!("/account/passkeys/{id}/rename")),
            &[("csrf_token", &bob_csrf), ("name", "Mine")],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("That passkey does not exist any more."));
    let page = bob
        .post(
            &app.url(&format!("/account/passkeys/{id}/delete")),
            &[("csrf_token", &bob_csrf)],
        )
        .await;
    assert_eq!(page.status, 400);
    // Nor can a form without its CSRF token.
    let page = alice
        .post(&app.url(&format!("/account/passkeys/{id}/delete")), &[])
        .await;
    assert_eq!(page.status, 403);
    assert_eq!(snapshot(&app).await, before);

    // Alice renames and removes it; it signs in no more.
    let csrf = account_page(&app, &alice)
        .await
        .input("csrf_token")
        .unwrap();
    let page = alice
        .post(
            &app.url(&format!("/account/passkeys/{id}/rename")),
            &[("csrf_token", &csrf), ("name", "Old laptop")],
        )
        .await;
    assert_eq!(
        page.location.as_deref(),
        Some("/account/passkeys?done=renamed")
    );
    assert!(account_page(&app, &alice).await.body.contains("Old laptop"));
    let page = alice
        .post(
            &app.url(&format!("/account/passkeys/{id}/delete")),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(
        page.location.as_deref(),
        Some("/account/passkeys?done=removed")
    );
    assert_eq!(app.count_rows("passkeys").await, 0);

    let other = Browser::new();
    let (login, _) = login_page(&app, &other).await;
    let page = attempt(&app, &other, &login, |opts| key.assert(opts, &app.address)).await;
    assert_refused(&page, REFUSED);
}

#[tokio::test]
async fn an_issuer_that_cannot_be_a_relying_party() {
    // Unset: the server starts without passkeys (127.0.0.1 is no domain).
    let app = crate::helpers::spawn_app().await;
    client(&app).await;
    let (login, _) = login_page(&app, &Browser::new()).await;
    assert!(!login.body.contains("/login/passkey"));
    assert!(!login.body.contains("<script"));
    // Set to true: the start fails and says why.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let settings = latchkey::config::Settings {
        issuer: url::Url::parse("http://127.0.0.1:9").unwrap(),
        passkeys: latchkey::config::PasskeySettings {
            enabled: Some(true),
            ..Default::default()
        },
        master_key: Some(latchkey::crypto::MasterKey::generate().to_base64().into()),
        database_url: "sqlite::memory:".to_owned().into(),
        ..Default::default()
    };
    let err = match latchkey::startup::Application::build_with_listener(settings, listener).await {
        Ok(_) => panic!("must not start"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("passkeys.enabled is true"), "{err}");
    assert!(err.contains("IP address"), "{err}");
}

async fn post_registration(
    browser: &Browser,
    app: &TestApp,
    csrf: &str,
    name: &str,
    credential: &str,
) -> Page {
    browser
        .post(
            &app.url("/account/passkeys"),
            &[
                ("csrf_token", csrf),
                ("name", name),
                ("credential", credential),
            ],
        )
        .await
}

/// Creation options with the same relying party and user as `key`, to make an impostor.
fn registration_like(key: &SoftKey) -> Value {
    serde_json::json!({"publicKey": {
        "rp": {"id": key.rp_id},
        "user": {"id": latchkey::crypto::b64url(&key.user_handle)},
        "challenge": "AAAA",
    }})
}

/// A client that sends its cookies by hand, so the same ceremony cookie can be sent twice.
struct Replayer<'a> {
    app: &'a TestApp,
    cookies: String,
    csrf: String,
    req: String,
}

impl<'a> Replayer<'a> {
    async fn new(app: &'a TestApp) -> Self {
        let browser = Browser::new();
        let (login, _) = login_page(app, &browser).await;
        let cookies = set_cookies(&login.headers);
        Self {
            app,
            cookies,
            csrf: login.input("csrf_token").unwrap(),
            req: login.input("req").unwrap(),
        }
    }

    async fn options(&mut self) -> Value {
        let resp = self
            .app
            .http
            .post(self.app.url("/login/passkey/options"))
            .header("content-type", "application/json")
            .header("x-csrf-token", &self.csrf)
            .header("cookie", &self.cookies)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let more = set_cookies(resp.headers());
        self.cookies = format!("{}; {more}", self.cookies);
        resp.json().await.unwrap()
    }

    async fn post(&self, credential: &str) -> reqwest::Response {
        let body = format!(
            "csrf_token={}&req={}&credential={}",
            crate::helpers::urlencode(&self.csrf),
            crate::helpers::urlencode(&self.req),
            crate::helpers::urlencode(credential)
        );
        self.app
            .http
            .post(self.app.url("/login/passkey"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &self.cookies)
            .body(body)
            .send()
            .await
            .unwrap()
    }
}

/// `name=value` of each `Set-Cookie`, joined for a `Cookie` header.
fn set_cookies(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ")
}
