//! The sign-in journey in a real browser: headless Chromium driven over WebDriver
//! (chromedriver + fantoccini) against the real server and a tiny relying party that
//! receives the callback. This is the one test that checks what only a browser enforces:
//! the Content-Security-Policy `form-action` on the redirect after consent, cookies across
//! the login and consent forms, and that the pages render. It also writes the screenshots
//! in `docs/images/` when LATCHKEY_WRITE_SCREENSHOTS=1.
//!
//! Needs `chromedriver` and `chromium` on PATH (`apt-get install -y chromium chromium-driver`).
//! Without them the test says so and passes, so that `cargo test` works on a fresh machine;
//! with LATCHKEY_REQUIRE_BROWSER_TESTS=1 (set by `.ci/run`, which installs both) it fails
//! instead. LATCHKEY_SKIP_BROWSER_TESTS=1 skips it even when chromedriver is there.
use std::collections::HashMap;
use std::future::Future;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use latchkey::admin::clients::NewClient;
use serde_json::json;
use tokio::sync::mpsc;

use crate::flow::{PASSWORD, pkce, user};
use crate::helpers::{TestApp, spawn_app, urlencode};

/// The longest any single wait in this file may take.
pub(crate) const WAIT: Duration = Duration::from_secs(10);
/// Backstop for the whole journey, in case chromedriver stops answering mid-command.
const WHOLE_TEST: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_person_signs_in_and_approves_in_a_real_browser() {
    // Arrange
    let Some(driver) = ChromeDriver::start() else {
        return;
    };
    let app = spawn_app().await;
    let rp = RelyingParty::start().await;
    let secret = app
        .create_client(NewClient {
            id: "webapp".into(),
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

#[tokio::test]
async fn the_demo_app_journey_in_a_real_browser() {
    // Arrange: the server, the demo user and client, and the demo app on its own port.
    let Some(driver) = ChromeDriver::start() else {
        return;
    };
    let app = spawn_app().await;
    let demo_url = crate::demo::start_demo(&app).await;
    let browser = driver.session().await;

    bounded(demo_journey(&app, &browser, &demo_url)).await;

    browser.close().await.expect("close the WebDriver session");
}

async fn demo_journey(app: &TestApp, browser: &Client, demo_url: &str) {
    // Act: the demo app's start page and its button.
    browser.goto(demo_url).await.expect("open the demo app");
    assert!(
        text(browser, ".demo-banner")
            .await
            .contains("Never run it in production")
    );
    save_screenshot(browser, "demo-start.png").await;
    click(browser, "#signin").await;

    // Act: Latchkey's login and consent pages, as for any client.
    wait_for(browser, "form[action='/login']").await;
    assert!(
        browser
            .current_url()
            .await
            .unwrap()
            .as_str()
            .starts_with(&app.address)
    );
    fill(browser, "username", latchkey::demo::DEMO_USERNAME).await;
    fill(browser, "password", latchkey::demo::DEMO_PASSWORD).await;
    click(browser, "form[action='/login'] button[type='submit']").await;
    wait_for(browser, "form[action='/consent']").await;
    assert_eq!(text(browser, ".client-name").await, "Latchkey demo app");
    click(browser, "button[name='decision'][value='allow']").await;

    // Assert: back at the demo app, which shows the validated claims and userinfo.
    let claims = text(browser, "#id-token-claims").await;
    assert_eq!(text(browser, "#who").await, "Demo Person");
    assert!(claims.contains("\"aud\": \"latchkey-demo\""), "{claims}");
    assert!(claims.contains("\"nonce\""), "{claims}");
    assert!(
        text(browser, "#userinfo")
            .await
            .contains("demo@example.com")
    );
    assert!(
        text(browser, ".demo-banner")
            .await
            .contains("Never run it in production")
    );
    save_screenshot(browser, "demo-claims.png").await;

    // Act + Assert: refresh, then sign out to Latchkey's own sign-out page.
    click(browser, "#refresh").await;
    let deadline = Instant::now() + WAIT;
    loop {
        // The page is replaced under us: a read may hit the old one, so retry.
        let shown = match browser.find(Locator::Css("#refreshed")).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if shown == "1" {
            break;
        }
        assert!(Instant::now() < deadline, "the refresh did not show");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Sign-out: RP-initiated logout with the ID token as hint ends the Latchkey session at
    // once and comes back to the demo app's start page.
    click(browser, "#signout").await;
    wait_for_url(browser, demo_url).await;
    let deadline = Instant::now() + WAIT;
    while !browser
        .source()
        .await
        .unwrap()
        .contains("Sign in with Latchkey")
    {
        assert!(
            Instant::now() < deadline,
            "not back at the demo's start page"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The Latchkey session is gone: signing in again asks for the password.
    click(browser, "#signin").await;
    wait_for(browser, "form[action='/login']").await;
}

#[tokio::test]
async fn branded_pages_in_a_real_browser() {
    // Arrange: a brand (name, logo file, colours) and a German-speaking person.
    let Some(driver) = ChromeDriver::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("acme.svg");
    std::fs::write(
        &logo,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48"><circle cx="24" cy="24" r="22" fill="#0a7d33"/><path d="M14 32 24 12 34 32z" fill="#fdf6e3"/></svg>"##,
    )
    .unwrap();
    let app = crate::helpers::spawn_app_with(|s| {
        s.branding.product_name = "Acme Identity".into();
        s.branding.logo = Some(logo.display().to_string());
        s.branding.primary_color = Some("#0a7d33".into());
        s.branding.background_color = Some("#fdf6e3".into());
    })
    .await;
    let rp = RelyingParty::start().await;
    app.create_client(NewClient {
        id: "webapp".into(),
        name: Some("Acme Shop".into()),
        redirect_uris: vec![rp.callback.clone()],
        ..Default::default()
    })
    .await;
    user(&app, "alice").await;
    let browser = driver.session().await;

    bounded(branded_journey(&app, &browser, &rp)).await;

    browser.close().await.expect("close the WebDriver session");
}

async fn branded_journey(app: &TestApp, browser: &Client, rp: &RelyingParty) {
    let (_, challenge) = pkce();
    let url = authorize_url(app, &rp.callback, &challenge, "s", "n");

    // Act + Assert: the login page wears the brand; the CSP let theme.css apply.
    browser.goto(&url).await.expect("open /authorize");
    assert_eq!(browser.title().await.unwrap(), "Sign in · Acme Identity");
    assert_eq!(text(browser, ".brand-name").await, "Acme Identity");
    let button = wait_for(browser, "button[type='submit']").await;
    assert_eq!(
        button.css_value("background-color").await.unwrap(),
        "rgba(10, 125, 51, 1)"
    );
    let body = wait_for(browser, "body").await;
    assert_eq!(
        body.css_value("background-color").await.unwrap(),
        "rgba(253, 246, 227, 1)"
    );
    wait_for(browser, ".brand-logo").await;
    let width = browser
        .execute(
            "return document.querySelector('.brand-logo').naturalWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        width.as_u64().is_some_and(|w| w > 0),
        "the logo loads: {width}"
    );
    save_screenshot(browser, "branded-login.png").await;

    // Act + Assert: the consent page in German (ui_locales), still branded.
    browser
        .goto(&format!("{url}&ui_locales=de"))
        .await
        .expect("open /authorize in German");
    assert_eq!(text(browser, "h1").await, "Anmelden");
    fill(browser, "username", "alice").await;
    fill(browser, "password", PASSWORD).await;
    click(browser, "form[action='/login'] button[type='submit']").await;
    wait_for(browser, "form[action='/consent']").await;
    assert_eq!(
        browser.title().await.unwrap(),
        "Zugriff erlauben? · Acme Identity"
    );
    let lang = wait_for(browser, "html").await.attr("lang").await.unwrap();
    assert_eq!(lang.as_deref(), Some("de"));
    save_screenshot(browser, "branded-consent-de.png").await;

    // Act + Assert: the error page, branded too.
    browser
        .goto(&app.url("/authorize?client_id=nobody"))
        .await
        .expect("open a bad request");
    assert_eq!(text(browser, ".brand-name").await, "Acme Identity");
    save_screenshot(browser, "branded-error.png").await;
}

pub(crate) async fn fill(browser: &Client, id: &str, value: &str) {
    browser
        .find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(value)
        .await
        .unwrap();
}

async fn journey(app: &TestApp, browser: &Client, mut rp: RelyingParty, secret: &str, sub: &str) {
    let (verifier, challenge) = pkce();
    let state = latchkey::crypto::random_token();
    let nonce = latchkey::crypto::random_token();
    let auth_url = authorize_url(app, &rp.callback, &challenge, &state, &nonce);

    // Act: the login page.
    browser.goto(&auth_url).await.expect("open /authorize");
    assert_eq!(browser.title().await.unwrap(), "Sign in · Latchkey");
    assert_eq!(text(browser, "h1").await, "Sign in");
    assert_eq!(
        text(browser, ".lede").await,
        "to continue to Example Web App"
    );
    save_screenshot(browser, "login.png").await;
    browser
        .find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys("alice")
        .await
        .unwrap();
    browser
        .find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    click(browser, "form[action='/login'] button[type='submit']").await;

    // Act: the consent page.
    wait_for(browser, "form[action='/consent']").await;
    assert_eq!(browser.title().await.unwrap(), "Allow access? · Latchkey");
    assert_eq!(text(browser, ".client-name").await, "Example Web App");
    let mut scopes = Vec::new();
    for item in browser.find_all(Locator::Css(".scope-name")).await.unwrap() {
        scopes.push(item.text().await.unwrap());
    }
    for scope in ["profile", "email", "offline_access"] {
        assert!(scopes.iter().any(|s| s == scope), "{scope} in {scopes:?}");
    }
    save_screenshot(browser, "consent.png").await;
    click(browser, "button[name='decision'][value='allow']").await;

    // Assert: the browser followed the redirect to the relying party (which it would refuse
    // if the consent page's CSP form-action did not allow the redirect URI).
    let landed = wait_for_url(browser, &rp.callback).await;
    assert_eq!(text(browser, "h1").await, "Signed in");
    let q = tokio::time::timeout(WAIT, rp.received.recv())
        .await
        .expect("the relying party saw the callback in time")
        .expect("callback query");
    assert!(q.contains_key("code"), "callback {landed}");
    assert_eq!(q["state"], state);
    assert_eq!(q["iss"], app.address, "RFC 9207 iss");

    // Assert: the code the browser carried is good for tokens, bound to the PKCE verifier.
    let body = format!(
        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={verifier}",
        urlencode(&q["code"]),
        urlencode(&rp.callback)
    );
    let resp = app
        .post_form("/token", &body, Some(("webapp", secret)))
        .await;
    assert_eq!(resp.status(), 200, "token exchange");
    let tokens: serde_json::Value = resp.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().expect("id_token");
    let (_, claims) = app.verify_jwt(id_token, "webapp").await;
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["nonce"], nonce.as_str());

    // Act + Assert: an unregistered redirect URI (on a live server, so a wrong redirect would
    // land there) shows Latchkey's error page and the browser stays put.
    let elsewhere = rp.callback.replace("/callback", "/elsewhere");
    let bad_url = authorize_url(app, &elsewhere, &challenge, &state, &nonce);
    browser.goto(&bad_url).await.expect("open /authorize");
    let at = browser.current_url().await.unwrap();
    assert_eq!(at.origin().ascii_serialization(), app.address, "at {at}");
    assert_eq!(at.path(), "/authorize");
    assert_eq!(
        browser.title().await.unwrap(),
        "This sign-in request is not valid · Latchkey"
    );
    save_screenshot(browser, "error.png").await;
    assert!(rp.received.try_recv().is_err(), "no second callback");
}

#[tokio::test]
async fn a_person_manages_their_account_in_a_real_browser() {
    // Arrange
    let Some(driver) = ChromeDriver::start() else {
        return;
    };
    let app = spawn_app().await;
    user(&app, "alice").await;
    // Alice already uses an app on another device.
    crate::flow::web_client(&app, "web").await;
    crate::flow::sign_in_with_pkce(&app, &crate::flow::Browser::new(), "web", "alice").await;
    let browser = driver.session().await;

    bounded(account_journey(&app, &browser)).await;

    browser.close().await.expect("close the WebDriver session");
}

async fn account_journey(app: &TestApp, browser: &Client) {
    // Act: the account page without a session goes through sign-in and back.
    browser
        .goto(&app.url("/account"))
        .await
        .expect("open /account");
    wait_for(browser, "form[action='/login']").await;
    fill(browser, "username", "alice").await;
    fill(browser, "password", PASSWORD).await;
    click(browser, "form[action='/login'] button[type='submit']").await;
    wait_for_url(browser, &app.url("/account")).await;
    assert_eq!(browser.title().await.unwrap(), "Your account · Latchkey");
    assert!(text(browser, ".row-current").await.contains("This device"));
    assert!(text(browser, ".row-current").await.contains("password"));
    assert!(text(browser, "#apps").await.contains("Example Web App"));
    let rows = browser
        .find_all(Locator::Css("#sessions li.row"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "this browser and the other device");
    save_screenshot(browser, "account.png").await;
    browser
        .execute("document.getElementById('apps').scrollIntoView()", vec![])
        .await
        .expect("scroll to the apps");
    save_screenshot(browser, "account-sessions.png").await;

    // Act: change the display name.
    let name = wait_for(browser, "#name").await;
    name.clear().await.unwrap();
    name.send_keys("Alice Liddell").await.unwrap();
    click(
        browser,
        "form[action='/account/profile'] button[type='submit']",
    )
    .await;

    // Assert: saved, and shown.
    assert_eq!(
        text(browser, "#account-notice").await,
        "Your profile was saved."
    );
    let shown = wait_for(browser, "#name")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(shown.as_deref(), Some("Alice Liddell"));

    // Act: sign out everywhere.
    click(
        browser,
        "form[action='/account/sessions/end-all'] button[type='submit']",
    )
    .await;

    // Assert: signed out; the account page asks for the password again.
    wait_for(browser, ".status-icon-ok").await;
    assert_eq!(app.count_rows("sessions").await, 0);
    browser
        .goto(&app.url("/account"))
        .await
        .expect("open /account");
    wait_for(browser, "form[action='/login']").await;
}

fn authorize_url(
    app: &TestApp,
    redirect_uri: &str,
    challenge: &str,
    state: &str,
    nonce: &str,
) -> String {
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "webapp")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid profile email offline_access")
        .append_pair("state", state)
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    url.into()
}

pub(crate) async fn bounded(journey: impl Future<Output = ()>) {
    tokio::time::timeout(WHOLE_TEST, journey)
        .await
        .expect("the browser journey finished in time");
}

pub(crate) async fn wait_for(browser: &Client, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("waiting for {css}: {e}"))
}

pub(crate) async fn text(browser: &Client, css: &str) -> String {
    wait_for(browser, css).await.text().await.unwrap()
}

pub(crate) async fn click(browser: &Client, css: &str) {
    wait_for(browser, css).await.click().await.unwrap();
}

/// Polls until the browser is at a URL starting with `prefix`; returns that URL.
pub(crate) async fn wait_for_url(browser: &Client, prefix: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let at = browser.current_url().await.unwrap().to_string();
        if at.starts_with(prefix) {
            return at;
        }
        assert!(Instant::now() < deadline, "still at {at}, not {prefix}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Saves a screenshot of the viewport for the docs, only when asked to, so ordinary test
/// runs leave the working tree clean.
pub(crate) async fn save_screenshot(browser: &Client, name: &str) {
    if std::env::var("LATCHKEY_WRITE_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let png = browser.screenshot().await.expect("screenshot");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images");
    std::fs::create_dir_all(&dir).expect("create docs/images");
    std::fs::write(dir.join(name), png).expect("write screenshot");
}

/// The client's side of the redirect: records the callback query and says "signed in".
pub(crate) struct RelyingParty {
    pub(crate) callback: String,
    pub(crate) received: mpsc::UnboundedReceiver<HashMap<String, String>>,
}

impl RelyingParty {
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the relying party");
        let callback = format!("http://{}/callback", listener.local_addr().unwrap());
        let (sender, received) = mpsc::unbounded_channel();
        let router = Router::new()
            .route("/callback", get(callback_page))
            .with_state(sender);
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { callback, received }
    }
}

async fn callback_page(
    State(sender): State<mpsc::UnboundedSender<HashMap<String, String>>>,
    Query(query): Query<HashMap<String, String>>,
) -> Html<&'static str> {
    let _ = sender.send(query);
    Html("<!doctype html><title>Example Web App</title><h1>Signed in</h1>")
}

/// A chromedriver process in its own process group with its own TMPDIR. Dropping it
/// terminates the whole group, so a test that panics with a session open does not leave
/// Chromium running, and removes the profile folders Chromium leaves in the temp dir.
pub(crate) struct ChromeDriver {
    child: Child,
    pub(crate) port: u16,
    // Dropped after the processes are gone (fields drop after `Drop::drop`).
    tmp: tempfile::TempDir,
}

impl ChromeDriver {
    /// Starts chromedriver, or returns None when browser tests are switched off.
    pub(crate) fn start() -> Option<Self> {
        if std::env::var("LATCHKEY_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
            println!("browser test skipped: LATCHKEY_SKIP_BROWSER_TESTS=1");
            return None;
        }
        let tmp = tempfile::tempdir().expect("temp dir for chromedriver");
        let port = free_port();
        let log = std::fs::File::create(tmp.path().join("chromedriver.log")).unwrap();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let hint = "chromedriver is not on PATH; install it with \
                            `apt-get install -y chromium chromium-driver`";
                if std::env::var("LATCHKEY_REQUIRE_BROWSER_TESTS").as_deref() == Ok("1") {
                    panic!("{hint} (LATCHKEY_REQUIRE_BROWSER_TESTS=1)");
                }
                eprintln!("browser test skipped: {hint}");
                return None;
            }
            Err(e) => panic!("could not start chromedriver: {e}"),
        };
        let mut driver = Self { child, port, tmp };
        driver.wait_until_listening();
        Some(driver)
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {} in time:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("chromedriver.log")).unwrap_or_default()
    }

    /// A new headless Chromium session.
    pub(crate) async fn session(&self) -> Client {
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                // --headless=new and --no-sandbox are required here (no display, running as
                // root); the rest keep Chromium from phoning home or slowing the test down.
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    // Tall enough for the whole consent page in the docs screenshots.
                    "--window-size=1280,1080",
                ]
            },
            "timeouts": { "pageLoad": WAIT.as_millis() as u64, "script": 5_000 }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        // Plain HTTP to the local chromedriver: ClientBuilder::rustls() would need a rustls
        // CryptoProvider chosen for the whole test binary (both aws-lc-rs and ring are enabled).
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let webdriver = format!("http://127.0.0.1:{}", self.port);
        let connect = builder.connect(&webdriver);
        match tokio::time::timeout(WAIT, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!("no browser session: {e}\n{}", self.log()),
            Err(_) => panic!("no browser session in time:\n{}", self.log()),
        }
    }

    fn signal_group(&self, signal: &str) -> bool {
        // The group id is chromedriver's pid: it was started with process_group(0).
        Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let pgid = self.child.id();
        self.signal_group("-TERM");
        // Chromium exits within milliseconds of SIGTERM; wait for that (bounded) so the
        // TMPDIR is removed after the last write, then make sure.
        let deadline = Instant::now() + Duration::from_secs(3);
        let _ = self.child.try_wait();
        while group_running(pgid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            let _ = self.child.try_wait();
        }
        if group_running(pgid) {
            self.signal_group("-KILL");
        }
        let _ = self.child.wait();
    }
}

/// Whether a process of the group is still running. Zombies do not count: Chromium's
/// helpers are reparented to PID 1 when chromedriver exits, and some container inits reap
/// them only seconds later.
fn group_running(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    let pgid = pgid.to_string();
    entries.flatten().any(|entry| {
        let is_pid = entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit());
        // /proc/PID/stat is "pid (comm) state ppid pgrp ..."; comm may hold spaces or ')'.
        is_pid
            && std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
                let fields: Vec<&str> = stat
                    .rsplit_once(')')
                    .map(|(_, rest)| rest.split_whitespace().take(3).collect())
                    .unwrap_or_default();
                matches!(fields[..], [state, _ppid, pgrp] if state != "Z" && pgrp == pgid)
            })
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test]
async fn a_person_sets_up_an_authenticator_and_signs_in_with_a_code_in_a_real_browser() {
    // Arrange
    let Some(driver) = ChromeDriver::start() else {
        return;
    };
    let app = spawn_app().await;
    user(&app, "alice").await;
    let browser = driver.session().await;
    crate::two_factor::settle_clock(20).await;

    bounded(authenticator_journey(&app, &browser)).await;

    browser.close().await.expect("close the WebDriver session");
}

async fn authenticator_journey(app: &TestApp, browser: &Client) {
    use crate::two_factor::{base32_decode, code_at, now};
    // Act: sign in with the password, set up the authenticator from its QR page.
    browser
        .goto(&app.url("/signin?return_to=/account/two-factor"))
        .await
        .expect("open /signin");
    wait_for(browser, "form[action='/login']").await;
    fill(browser, "username", "alice").await;
    fill(browser, "password", PASSWORD).await;
    click(browser, "form[action='/login'] button[type='submit']").await;
    wait_for(browser, ".qr-frame svg").await;
    let key = base32_decode(&text(browser, "#totp-secret").await);
    fill(browser, "code", &code_at(&key, now())).await;
    click(
        browser,
        "form[action='/account/two-factor/enrol'] button[type='submit']",
    )
    .await;

    // Assert: ten recovery codes, shown once.
    wait_for(browser, "#recovery-codes li").await;
    let codes = browser
        .find_all(Locator::Css("#recovery-codes li"))
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    click(browser, "#recovery-continue").await;
    wait_for(browser, "#two-factor-status").await;

    // Act: sign out everywhere, then sign in again: password, then a code.
    browser.goto(&app.url("/account")).await.unwrap();
    click(
        browser,
        "form[action='/account/sessions/end-all'] button[type='submit']",
    )
    .await;
    wait_for(browser, ".status-icon-ok").await;
    assert_eq!(app.count_rows("sessions").await, 0);
    browser.goto(&app.url("/account")).await.unwrap();
    wait_for(browser, "form[action='/login']").await;
    fill(browser, "username", "alice").await;
    fill(browser, "password", PASSWORD).await;
    click(browser, "form[action='/login'] button[type='submit']").await;
    wait_for(browser, "form[action='/login/second-factor']").await;
    assert_eq!(
        app.count_rows("sessions").await,
        0,
        "no session before the code"
    );
    // The step of the enrolment code is used: the next step's code is accepted.
    fill(browser, "code", &code_at(&key, now() + 30)).await;
    click(
        browser,
        "form[action='/login/second-factor'] button[type='submit']",
    )
    .await;

    // Assert: signed in with two factors.
    wait_for_url(browser, &app.url("/account")).await;
    assert!(text(browser, ".row-current").await.contains("This device"));
    assert_eq!(app.count_rows("sessions").await, 1);
}
