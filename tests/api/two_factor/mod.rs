//! Authenticator codes (TOTP) as a second factor, over HTTP as a browser and a relying
//! party see them. The test computes codes itself (RFC 6238, with its own HMAC) from the
//! key shown on the enrolment page.
mod account;
mod policy;
mod sign_in;

use aws_lc_rs::hmac;

use crate::flow::{Browser, PASSWORD, Page};
use crate::helpers::TestApp;

/// RFC 4648 base32 (upper case, spaces ignored) to bytes.
pub fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = ALPHABET
            .iter()
            .position(|a| *a == c)
            .expect("base32 character") as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// The 6-digit code of `key` at `unix_time` (RFC 6238: HMAC-SHA-1, 30 s steps).
pub fn code_at(key: &[u8], unix_time: i64) -> String {
    let counter = (unix_time / 30) as u64;
    let k = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let mac = hmac::sign(&k, &counter.to_be_bytes());
    let mac = mac.as_ref();
    let o = (mac[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([mac[o] & 0x7f, mac[o + 1], mac[o + 2], mac[o + 3]]);
    format!("{:06}", bin % 1_000_000)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Waits until at least `margin` seconds remain in the current 30 s step, so that a test's
/// codes (this step and its neighbours) stay valid while it runs.
pub async fn settle_clock(margin: i64) {
    let into = now() % 30;
    if 30 - into < margin {
        tokio::time::sleep(std::time::Duration::from_secs((30 - into + 1) as u64)).await;
    }
}

/// The text between `start` and the next `end` on a page.
pub fn between<'a>(page: &'a Page, start: &str, end: &str) -> &'a str {
    let from = page
        .body
        .find(start)
        .unwrap_or_else(|| panic!("{start} on {page:?}"))
        + start.len();
    let to = page.body[from..].find(end).expect("end marker") + from;
    &page.body[from..to]
}

/// The key shown on an enrolment page.
pub fn key_on(page: &Page) -> Vec<u8> {
    base32_decode(between(page, "id=\"totp-secret\">", "</code>"))
}

/// The recovery codes shown on a page.
pub fn recovery_codes_on(page: &Page) -> Vec<String> {
    let list = between(page, "id=\"recovery-codes\">", "</ul>");
    list.split("<code>")
        .skip(1)
        .map(|s| s.split("</code>").next().unwrap().to_owned())
        .collect()
}

pub fn is_code_page(page: &Page) -> bool {
    page.status == 200 && page.body.contains("action=\"/login/second-factor\"")
}

pub fn is_enrol_page(page: &Page, action: &str) -> bool {
    page.body.contains(&format!("action=\"{action}\"")) && page.body.contains("id=\"totp-secret\"")
}

/// Posts a code on a code page (or an enrolment page) with its hidden fields.
pub async fn submit_code(
    app: &TestApp,
    browser: &Browser,
    page: &Page,
    action: &str,
    code: &str,
) -> Page {
    let csrf = page.input("csrf_token").expect("csrf_token");
    let mut form = vec![("csrf_token", csrf.clone()), ("code", code.to_owned())];
    if let Some(pending) = page.input("pending") {
        form.push(("pending", pending));
    }
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.post(&app.url(action), &form).await
}

/// Signs `username` in on the account side (`/signin`) and sets up an authenticator from
/// the account page. Returns the key and the recovery codes. The code used is the one of
/// the previous step, so that this step's and the next one's are left for the test.
pub async fn enrol(app: &TestApp, username: &str) -> (Vec<u8>, Vec<String>) {
    let browser = Browser::new();
    let enrol_page = account_page(app, &browser, username).await;
    assert!(
        is_enrol_page(&enrol_page, "/account/two-factor/enrol"),
        "{enrol_page:?}"
    );
    let key = key_on(&enrol_page);
    let codes_page = submit_code(
        app,
        &browser,
        &enrol_page,
        "/account/two-factor/enrol",
        &code_at(&key, now() - 30),
    )
    .await;
    assert_eq!(codes_page.status, 200, "{codes_page:?}");
    (key, recovery_codes_on(&codes_page))
}

/// A browser signed in (password only) and on `/account/two-factor`.
pub async fn account_page(app: &TestApp, browser: &Browser, username: &str) -> Page {
    let login = browser
        .get(&app.url("/signin?return_to=/account/two-factor"))
        .await;
    let back = browser.login(app, &login, username, PASSWORD).await;
    assert_eq!(back.status, 303, "{back:?}");
    browser.get(&app.url("/account/two-factor")).await
}
