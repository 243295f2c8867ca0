//! Signing in with a password and then a code: the right code, a wrong one, a replayed
//! one, recovery codes (each once), the throttle, and the ID token's `amr` and `acr`
//! through the `openidconnect` crate.
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationContextClass, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, RedirectUrl, TokenResponse,
};

use super::{code_at, enrol, is_code_page, now, settle_clock, submit_code};
use crate::flow::{Browser, PASSWORD, REDIRECT, authorize_url, pkce, user, web_client};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// The code page after the password for `username` on a fresh authorization request.
async fn code_page(app: &TestApp, browser: &Browser, username: &str) -> crate::flow::Page {
    let (_, challenge) = pkce();
    let login = browser
        .get(&authorize_url(app, "web", &challenge, ""))
        .await;
    let page = browser.login(app, &login, username, PASSWORD).await;
    assert!(is_code_page(&page), "{page:?}");
    assert!(page.input("pending").is_some());
    page
}

async fn authenticator_row(app: &TestApp) -> (Option<i64>, Option<i64>) {
    let conn = sea_orm::Database::connect(app.db_url()).await.unwrap();
    use sea_orm::{ConnectionTrait, Statement};
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT confirmed_at, last_used_step FROM totp_authenticators".to_owned(),
        ))
        .await
        .unwrap()
        .expect("one authenticator");
    let confirmed: Option<i64> = row.try_get("", "confirmed_at").unwrap();
    let step: Option<i64> = row.try_get("", "last_used_step").unwrap();
    conn.close().await.ok();
    (confirmed, step)
}

#[tokio::test]
async fn a_password_then_a_code_signs_in_and_no_session_exists_before_the_code() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    settle_clock(5).await;
    let (key, _) = enrol(&app, "alice").await;
    let sessions_before = app.count_rows("sessions").await;

    let browser = Browser::new();
    let page = code_page(&app, &browser, "alice").await;
    assert_eq!(
        app.count_rows("sessions").await,
        sessions_before,
        "the password alone starts no session"
    );
    let wrong = submit_code(&app, &browser, &page, "/login/second-factor", "000000").await;
    assert!(is_code_page(&wrong), "{wrong:?}");
    assert!(wrong.body.contains("role=\"alert\""));
    assert_eq!(app.count_rows("sessions").await, sessions_before);

    let done = submit_code(
        &app,
        &browser,
        &wrong,
        "/login/second-factor",
        &code_at(&key, now()),
    )
    .await;
    assert!(
        done.body.contains("action=\"/consent\"") || done.status == 303,
        "{done:?}"
    );
    assert_eq!(app.count_rows("sessions").await, sessions_before + 1);
}

#[tokio::test]
async fn a_code_is_accepted_once_and_an_older_one_never_after_it() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    settle_clock(5).await;
    let (key, _) = enrol(&app, "alice").await;
    let t = now();

    let first = Browser::new();
    let page = code_page(&app, &first, "alice").await;
    let ok = submit_code(
        &app,
        &first,
        &page,
        "/login/second-factor",
        &code_at(&key, t),
    )
    .await;
    assert!(!is_code_page(&ok), "{ok:?}");
    let (_, used) = authenticator_row(&app).await;
    assert_eq!(used, Some(t / 30));

    // The same code from another browser (an attacker who saw it) is refused.
    let second = Browser::new();
    let page = code_page(&app, &second, "alice").await;
    let replay = submit_code(
        &app,
        &second,
        &page,
        "/login/second-factor",
        &code_at(&key, t),
    )
    .await;
    assert!(is_code_page(&replay), "{replay:?}");
    // So is the previous step's code, still inside the clock-skew window.
    let older = submit_code(
        &app,
        &second,
        &replay,
        "/login/second-factor",
        &code_at(&key, t - 30),
    )
    .await;
    assert!(is_code_page(&older), "{older:?}");
    assert_eq!(
        authenticator_row(&app).await.1,
        Some(t / 30),
        "nothing recorded"
    );
    // The next step's code works.
    let next = submit_code(
        &app,
        &second,
        &older,
        "/login/second-factor",
        &code_at(&key, t + 30),
    )
    .await;
    assert!(!is_code_page(&next), "{next:?}");
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let (_, codes) = enrol(&app, "alice").await;
    assert_eq!(codes.len(), 10);

    let browser = Browser::new();
    let page = code_page(&app, &browser, "alice").await;
    // Typed in capitals with spaces: still the code.
    let typed = codes[3].to_uppercase().replace('-', " ");
    let ok = submit_code(&app, &browser, &page, "/login/second-factor", &typed).await;
    assert!(!is_code_page(&ok), "{ok:?}");

    let again = Browser::new();
    let page = code_page(&app, &again, "alice").await;
    let used = submit_code(&app, &again, &page, "/login/second-factor", &codes[3]).await;
    assert!(
        is_code_page(&used),
        "a used recovery code is refused: {used:?}"
    );
    let other = submit_code(&app, &again, &used, "/login/second-factor", &codes[4]).await;
    assert!(!is_code_page(&other), "{other:?}");
}

#[tokio::test]
async fn the_pending_sign_in_is_bound_to_its_browser() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    settle_clock(5).await;
    let (key, _) = enrol(&app, "alice").await;
    let victim = Browser::new();
    let page = code_page(&app, &victim, "alice").await;
    let before = authenticator_row(&app).await;

    // Another browser with the same form fields (and its own CSRF cookie) gets nowhere.
    let thief = Browser::new();
    let own = thief.get(&app.url("/signin")).await;
    let csrf = own.input("csrf_token").expect("csrf on the thief's page");
    let pending = page.input("pending").unwrap();
    let code = code_at(&key, now());
    let stolen = thief
        .post(
            &app.url("/login/second-factor"),
            &[
                ("csrf_token", &csrf),
                ("pending", &pending),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(stolen.status, 400, "{stolen:?}");
    assert_eq!(
        authenticator_row(&app).await,
        before,
        "the code was not used up"
    );
    // The victim's own browser still can.
    let ok = submit_code(&app, &victim, &page, "/login/second-factor", &code).await;
    assert!(!is_code_page(&ok), "{ok:?}");
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_passwords() {
    let app = spawn_app_with(|s| {
        s.login.delay_after = 100;
        s.login.max_failures = 3;
    })
    .await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    settle_clock(5).await;
    let (key, _) = enrol(&app, "alice").await;
    let before = authenticator_row(&app).await;
    let browser = Browser::new();
    let mut page = code_page(&app, &browser, "alice").await;
    for _ in 0..2 {
        page = submit_code(&app, &browser, &page, "/login/second-factor", "111111").await;
        assert_eq!(page.status, 200, "{page:?}");
    }
    let locked = submit_code(&app, &browser, &page, "/login/second-factor", "111111").await;
    assert_eq!(locked.status, 429, "{locked:?}");
    assert!(locked.headers.get("retry-after").is_some());
    // Even the right code is refused while locked, and is not used up.
    let right = submit_code(
        &app,
        &browser,
        &locked,
        "/login/second-factor",
        &code_at(&key, now()),
    )
    .await;
    assert_eq!(right.status, 429, "{right:?}");
    assert_eq!(
        authenticator_row(&app).await,
        before,
        "the right code was not used up"
    );
    assert_eq!(
        app.count_rows("sessions").await,
        1,
        "only the enrolling browser's session"
    );
}

#[tokio::test]
async fn the_id_token_says_amr_pwd_otp_mfa_and_the_multi_factor_acr() {
    let app = spawn_app().await;
    let secret = web_client(&app, "web").await;
    user(&app, "alice").await;
    settle_clock(5).await;
    let (key, _) = enrol(&app, "alice").await;
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let supported: Vec<String> = meta
        .acr_values_supported()
        .expect("acr_values_supported")
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(supported, ["urn:latchkey:acr:sfa", "urn:latchkey:acr:mfa"]);
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new("web".into()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();

    let browser = Browser::new();
    let login = browser.get(url.as_str()).await;
    let page = browser.login(&app, &login, "alice", PASSWORD).await;
    assert!(is_code_page(&page), "{page:?}");
    let mut page = submit_code(
        &app,
        &browser,
        &page,
        "/login/second-factor",
        &code_at(&key, now()),
    )
    .await;
    if page.is_consent() {
        page = browser.consent(&app, &page, "allow").await;
    }
    let q = page.callback();
    let tokens = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier(), &nonce)
        .expect("ID token verifies");
    let amr: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
    assert_eq!(
        claims.auth_context_ref(),
        Some(&AuthenticationContextClass::new(
            "urn:latchkey:acr:mfa".into()
        ))
    );
}
