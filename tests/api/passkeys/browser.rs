//! The passkey journey in headless Chromium with the browser's own virtual authenticator
//! (the W3C WebAuthn WebDriver extension): register a passkey on the account page, sign
//! out, sign in to a relying party with the passkey and no username, and check the ID
//! token's `amr`; then, the client requiring two factors, the password followed by the
//! passkey on the second-step page. This is what only a browser checks: the CSP lets `static/passkeys.js`
//! run, the JSON options parse with `parseCreationOptionsFromJSON` /
//! `parseRequestOptionsFromJSON`, and `credential.toJSON()` is accepted as it is.
use axum::http::Method;
use fantoccini::Client;
use fantoccini::wd::WebDriverCompatibleCommand;
use latchkey::admin::clients::NewClient;
use serde_json::{Value, json};

use super::{amr, id_token_claims_at, passkey_app};
use crate::browser::{
    ChromeDriver, RelyingParty, WAIT, bounded, click, fill, save_screenshot, text, wait_for,
    wait_for_url,
};
use crate::flow::{PASSWORD, pkce, require_two_factors, user};
use crate::helpers::TestApp;

#[tokio::test]
async fn register_a_passkey_then_sign_in_with_it_in_a_real_browser() {
    let Some(driver) = ChromeDriver::start() else {
        return;
    };
    let app = passkey_app(|_| {}).await;
    let rp = RelyingParty::start().await;
    let secret = app
        .create_client(NewClient {
            id: "web".into(),
            name: Some("Example Web App".into()),
            redirect_uris: vec![rp.callback.clone()],
            ..Default::default()
        })
        .await
        .expect("secret");
    let alice = user(&app, "alice").await;
    let browser = driver.session().await;

    bounded(journey(&app, &browser, rp, &secret, &alice)).await;

    browser.close().await.expect("close the WebDriver session");
}

async fn journey(app: &TestApp, browser: &Client, mut rp: RelyingParty, secret: &str, sub: &str) {
    // Arrange: an authenticator with user verification, like a phone's fingerprint reader.
    let authenticator = add_virtual_authenticator(browser).await;

    // Act: sign in with the password, then register a passkey on the account page.
    password_sign_in(app, browser, &rp.callback).await;
    click(browser, "button[name='decision'][value='allow']").await;
    wait_for_url(browser, &rp.callback).await;
    rp.received.recv().await.expect("first callback");

    browser.goto(&app.url("/account/passkeys")).await.unwrap();
    wait_for(browser, "#add-passkey:not([hidden])").await;
    fill(browser, "passkey-name", "Chromium").await;
    click(browser, "#add-passkey button[type='submit']").await;

    // Assert: listed, and held by the authenticator.
    assert_eq!(text(browser, ".notice").await, "Passkey added.");
    assert_eq!(text(browser, ".passkey-name").await, "Chromium");
    save_screenshot(browser, "account-passkeys.png").await;
    let held = credentials(browser, &authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        held[0]["isResidentCredential"], true,
        "discoverable: {held:?}"
    );

    // Act: sign out, then sign in to the relying party with the passkey and no username.
    sign_out(app, browser).await;
    let (verifier, challenge) = pkce();
    browser
        .goto(&authorize_url(app, &rp.callback, &challenge))
        .await
        .unwrap();
    // Conditional mediation (autofill) may sign in by itself as soon as the page loads, with
    // the virtual authenticator answering at once: then the page is gone before the button
    // can be found, and there is nothing to click.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let url = browser.current_url().await.unwrap();
        if url.as_str().starts_with(rp.callback.as_str()) {
            break;
        }
        if let Ok(button) = browser
            .find(fantoccini::Locator::Css(
                "#passkey-sign-in:not([hidden]) button",
            ))
            .await
        {
            save_screenshot(browser, "login-passkey.png").await;
            let _ = button.click().await;
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "neither the passkey button nor the relying party's callback appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Assert: back at the relying party with a code whose ID token says how.
    let claims = callback_claims(app, browser, &mut rp, secret, &verifier).await;
    assert_eq!(claims["sub"], sub);
    let amr = amr(&claims);
    assert!(amr.contains("user") && amr.contains("mfa"), "{amr:?}");
    assert!(amr.contains("hwk") || amr.contains("swk"), "{amr:?}");
    assert!(!amr.contains("pwd"), "{amr:?}");

    second_step(app, browser, &mut rp, secret, &authenticator).await;
}

/// The client now requires two factors and alice has no authenticator app: after her
/// password, the second-step page offers only her passkey, which completes the sign-in.
async fn second_step(
    app: &TestApp,
    browser: &Client,
    rp: &mut RelyingParty,
    secret: &str,
    authenticator: &str,
) {
    require_two_factors(app, "web").await;
    sign_out(app, browser).await;
    // The passkey leaves the browser while the password is typed (autofill would otherwise
    // sign in with it first), and comes back for the second step.
    let held = credentials(browser, authenticator).await;
    remove_authenticator(browser, authenticator).await;
    let verifier = password_sign_in(app, browser, &rp.callback).await;
    wait_for(browser, "#passkey-second-factor:not([hidden])").await;
    assert!(
        browser
            .find(fantoccini::Locator::Css(
                "form[action='/login/second-factor']"
            ))
            .await
            .is_err(),
        "no code form for someone without an authenticator app"
    );
    save_screenshot(browser, "second-step-passkey.png").await;
    let again = add_virtual_authenticator(browser).await;
    add_credential(browser, &again, &held[0]).await;
    click(browser, "#passkey-second-factor button[type='submit']").await;

    let amr = amr(&callback_claims(app, browser, rp, secret, &verifier).await);
    for m in ["pwd", "user", "mfa"] {
        assert!(amr.contains(m), "{m} in {amr:?}");
    }
    assert!(amr.contains("hwk") || amr.contains("swk"), "{amr:?}");
}

/// A fresh authorization request, and alice's password on its login page; the PKCE
/// verifier.
async fn password_sign_in(app: &TestApp, browser: &Client, callback: &str) -> String {
    let (verifier, challenge) = pkce();
    browser
        .goto(&authorize_url(app, callback, &challenge))
        .await
        .unwrap();
    fill(browser, "username", "alice").await;
    fill(browser, "password", PASSWORD).await;
    click(browser, "form[action='/login'] button[type='submit']").await;
    verifier
}

async fn sign_out(app: &TestApp, browser: &Client) {
    browser.goto(&app.url("/logout")).await.unwrap();
    click(browser, "form[action='/logout'] button[type='submit']").await;
    wait_for(browser, "h1").await;
}

/// Waits for the relying party's callback; the claims of the ID token its code gets.
async fn callback_claims(
    app: &TestApp,
    browser: &Client,
    rp: &mut RelyingParty,
    secret: &str,
    verifier: &str,
) -> Value {
    wait_for_url(browser, &rp.callback).await;
    let q = tokio::time::timeout(WAIT, rp.received.recv())
        .await
        .expect("the relying party saw the callback in time")
        .expect("callback query");
    id_token_claims_at(app, secret, &q["code"], verifier, &rp.callback).await
}

fn authorize_url(app: &TestApp, callback: &str, challenge: &str) -> String {
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "web")
        .append_pair("redirect_uri", callback)
        .append_pair("scope", "openid profile")
        .append_pair("state", "st")
        .append_pair("nonce", "n")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    url.into()
}

/// A command of the W3C WebAuthn WebDriver extension (section 11 of WebAuthn Level 3).
#[derive(Debug)]
struct WebAuthnCommand {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/webauthn/{}", self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

/// Adds a CTAP2 platform authenticator that holds discoverable credentials and verifies
/// its user; returns its id.
async fn add_virtual_authenticator(browser: &Client) -> String {
    let answer = browser
        .issue_cmd(WebAuthnCommand {
            method: Method::POST,
            path: "authenticator".into(),
            body: Some(json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
            })),
        })
        .await
        .expect("add a virtual authenticator");
    answer.as_str().expect("authenticator id").to_owned()
}

/// Removes a virtual authenticator and the credentials it holds.
async fn remove_authenticator(browser: &Client, authenticator: &str) {
    browser
        .issue_cmd(WebAuthnCommand {
            method: Method::DELETE,
            path: format!("authenticator/{authenticator}"),
            body: None,
        })
        .await
        .expect("remove the virtual authenticator");
}

/// Gives a virtual authenticator a credential (as `credentials` lists it).
async fn add_credential(browser: &Client, authenticator: &str, credential: &Value) {
    let mut body = json!({});
    for field in [
        "credentialId",
        "isResidentCredential",
        "rpId",
        "privateKey",
        "userHandle",
        "signCount",
    ] {
        body[field] = credential[field].clone();
    }
    browser
        .issue_cmd(WebAuthnCommand {
            method: Method::POST,
            path: format!("authenticator/{authenticator}/credential"),
            body: Some(body),
        })
        .await
        .expect("add a credential");
}

/// The credentials the virtual authenticator holds.
async fn credentials(browser: &Client, authenticator: &str) -> Vec<Value> {
    let answer = browser
        .issue_cmd(WebAuthnCommand {
            method: Method::GET,
            path: format!("authenticator/{authenticator}/credentials"),
            body: None,
        })
        .await
        .expect("list credentials");
    answer.as_array().cloned().unwrap_or_default()
}
