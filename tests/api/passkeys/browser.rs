//! The passkey journey in headless Chromium with the browser's own virtual authenticator
//! (the W3C WebAuthn WebDriver extension): register a passkey on the account page, sign
//! out, sign in to a relying party with the passkey and no username, and check the ID
//! token's `amr`. This is what only a browser checks: the CSP lets `static/passkeys.js`
//! run, the JSON options parse with `parseCreationOptionsFromJSON` /
//! `parseRequestOptionsFromJSON`, and `credential.toJSON()` is accepted as it is.
use std::collections::HashSet;

use axum::http::Method;
use fantoccini::Client;
use fantoccini::wd::WebDriverCompatibleCommand;
use latchkey::admin::clients::NewClient;
use serde_json::{Value, json};

use super::{id_token_claims_at, passkey_app};
use crate::browser::{
    ChromeDriver, RelyingParty, WAIT, bounded, click, fill, save_screenshot, text, wait_for,
    wait_for_url,
};
use crate::flow::{PASSWORD, pkce, user};
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
    let (_, challenge) = pkce();
    browser
        .goto(&authorize_url(app, &rp.callback, &challenge))
        .await
        .unwrap();
    fill(browser, "username", "alice").await;
    fill(browser, "password", PASSWORD).await;
    click(browser, "form[action='/login'] button[type='submit']").await;
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
    browser.goto(&app.url("/logout")).await.unwrap();
    click(browser, "form[action='/logout'] button[type='submit']").await;
    wait_for(browser, "h1").await;
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
    wait_for_url(browser, &rp.callback).await;
    let q = tokio::time::timeout(WAIT, rp.received.recv())
        .await
        .expect("the relying party saw the callback in time")
        .expect("callback query");
    let claims = id_token_claims_at(app, secret, &q["code"], &verifier, &rp.callback).await;
    assert_eq!(claims["sub"], sub);
    let amr: HashSet<&str> = claims["amr"]
        .as_array()
        .expect("amr")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(amr.contains("user") && amr.contains("mfa"), "{amr:?}");
    assert!(amr.contains("hwk") || amr.contains("swk"), "{amr:?}");
    assert!(!amr.contains("pwd"), "{amr:?}");
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
