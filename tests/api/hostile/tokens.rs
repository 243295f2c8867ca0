//! Code injection across clients, PKCE downgrade and verifier guessing (RFC 9700 sections
//! 2.1.1, 4.5 and 4.8): the refusal is `invalid_grant` and no token is issued.
use latchkey::admin::clients::NewClient;

use crate::flow::{
    Browser, REDIRECT, authorize_url, exchange, sign_in, sign_in_with_pkce, user, web_client,
};
use crate::helpers::{assert_oauth_error, spawn_app, urlencode};

#[tokio::test]
async fn a_code_injected_into_another_client_is_refused_and_stays_usable_by_its_own() {
    let app = spawn_app().await;
    let web = web_client(&app, "web").await;
    let attacker = web_client(&app, "attacker").await;
    user(&app, "alice").await;
    let (q, verifier, _) = sign_in_with_pkce(&app, &Browser::new(), "web", "alice").await;
    let before = app.stored().await;
    let stolen = exchange(&app, ("attacker", &attacker), &q["code"], &verifier).await;
    assert_oauth_error(stolen, 400, "invalid_grant").await;
    assert_eq!(app.stored().await, before, "nothing issued to the attacker");
    // The injection did not burn the victim's code.
    let ok = exchange(&app, ("web", &web), &q["code"], &verifier).await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn a_verifier_for_a_code_issued_without_a_challenge_is_a_downgrade() {
    let app = spawn_app().await;
    let secret = app
        .create_client(NewClient {
            id: "legacy".into(),
            redirect_uris: vec![REDIRECT.into()],
            no_pkce: true,
            ..Default::default()
        })
        .await
        .unwrap();
    user(&app, "alice").await;
    let url = authorize_url(&app, "legacy", "", "")
        .replace("&code_challenge=&code_challenge_method=S256", "");
    let q = sign_in(&app, &Browser::new(), &url, "alice").await;
    let before = app.stored().await;
    let verifier = "a".repeat(43);
    let resp = exchange(&app, ("legacy", &secret), &q["code"], &verifier).await;
    let body = assert_oauth_error(resp, 400, "invalid_grant").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("no code_challenge")
    );
    // The attempt consumed the code (one try), and issued nothing.
    assert_no_tokens(&before, &app.stored().await);
}

/// No refresh token and no access token of a grant was issued between the two snapshots
/// (a consumed code is an update, not a new row).
fn assert_no_tokens(before: &[(&str, i64)], after: &[(&str, i64)]) {
    let count =
        |stored: &[(&str, i64)], table: &str| stored.iter().find(|(t, _)| *t == table).unwrap().1;
    for table in ["refresh_tokens", "grant_access_tokens"] {
        assert_eq!(count(after, table), count(before, table), "{table}");
    }
}

#[tokio::test]
async fn guessing_the_verifier_gets_one_try_per_code() {
    let app = spawn_app().await;
    let web = web_client(&app, "web").await;
    user(&app, "alice").await;
    let (q, verifier, _) = sign_in_with_pkce(&app, &Browser::new(), "web", "alice").await;
    let before = app.stored().await;
    for guess in ["A".repeat(43), "B".repeat(128)] {
        let resp = exchange(&app, ("web", &web), &q["code"], &guess).await;
        assert_oauth_error(resp, 400, "invalid_grant").await;
    }
    // Malformed verifiers (too short, too long, outside the alphabet) are invalid_request.
    for bad in [
        "short".to_owned(),
        "x".repeat(129),
        format!("{}%20", "a".repeat(43)),
    ] {
        let body = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={bad}",
            urlencode(&q["code"]),
            urlencode(REDIRECT)
        );
        let resp = app.post_form("/token", &body, Some(("web", &web))).await;
        assert_oauth_error(resp, 400, "invalid_request").await;
    }
    // The first wrong guess used the code up: even the right verifier now fails.
    let resp = exchange(&app, ("web", &web), &q["code"], &verifier).await;
    assert_oauth_error(resp, 400, "invalid_grant").await;
    assert_no_tokens(&before, &app.stored().await);
}

#[tokio::test]
async fn a_refresh_token_presented_as_a_code_or_a_code_as_a_refresh_token_is_refused() {
    let app = spawn_app().await;
    let web = web_client(&app, "web").await;
    user(&app, "alice").await;
    let (q, verifier, _) = sign_in_with_pkce(&app, &Browser::new(), "web", "alice").await;
    let tokens: serde_json::Value = exchange(&app, ("web", &web), &q["code"], &verifier)
        .await
        .json()
        .await
        .unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let before = app.stored().await;
    for code in [refresh, access] {
        let resp = exchange(&app, ("web", &web), code, &verifier).await;
        assert_oauth_error(resp, 400, "invalid_grant").await;
    }
    for token in [q["code"].as_str(), access] {
        let resp = crate::flow::refresh(&app, ("web", &web), token).await;
        assert_oauth_error(resp, 400, "invalid_grant").await;
    }
    assert_eq!(app.stored().await, before);
}
