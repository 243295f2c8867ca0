//! Session fixation, cookies and forms from another deployment (another master key), and
//! CSRF on the consent form.
use crate::flow::{Browser, PASSWORD, authorize_url, pkce, user, web_client};
use crate::helpers::{TestApp, spawn_app};

/// The `name=value` pairs a response sets.
fn set_cookies(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| {
            let first = v.to_str().ok()?.split(';').next()?;
            let (n, v) = first.split_once('=')?;
            Some((n.to_owned(), v.to_owned()))
        })
        .collect()
}

async fn get_with_cookie(app: &TestApp, url: &str, cookie: &str) -> reqwest::Response {
    app.http
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

fn input(body: &str, name: &str) -> String {
    let page = crate::flow::Page {
        status: 200,
        location: None,
        body: body.to_owned(),
        headers: Default::default(),
    };
    page.input(name).unwrap()
}

#[tokio::test]
async fn a_planted_session_id_is_replaced_at_login_and_never_becomes_a_session() {
    let app = spawn_app().await;
    web_client(&app, "web").await;
    user(&app, "alice").await;
    let (_, challenge) = pkce();
    let url = authorize_url(&app, "web", &challenge, "");
    let planted = "latchkey_session=attacker-chosen-value-0123456789; latchkey_csrf=c-0123456789";
    let resp = get_with_cookie(&app, &url, planted).await;
    let body = resp.text().await.unwrap();
    assert!(body.contains("name=\"password\""), "login page");
    let form = [
        ("csrf_token", input(&body, "csrf_token")),
        ("req", input(&body, "req")),
        ("username", "alice".to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let resp = app
        .http
        .post(app.url("/login"))
        .header("cookie", planted)
        .form(&form)
        .send()
        .await
        .unwrap();
    let session = set_cookies(resp.headers())
        .into_iter()
        .find(|(n, _)| n == "latchkey_session")
        .expect("a session cookie is set")
        .1;
    assert_ne!(session, "attacker-chosen-value-0123456789");
    // The planted value is still nobody's session.
    let resp = get_with_cookie(&app, &url, planted).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("name=\"password\""));
}

#[tokio::test]
async fn cookies_tickets_and_csrf_tokens_of_another_deployment_are_worthless() {
    let a = spawn_app().await;
    let b = spawn_app().await;
    for app in [&a, &b] {
        web_client(app, "web").await;
        user(app, "alice").await;
    }
    // Signed in at A, with A's cookies and A's form fields.
    let (_, challenge) = pkce();
    let browser = Browser::new();
    let page = browser.get(&authorize_url(&a, "web", &challenge, "")).await;
    let csrf_a = set_cookies(&page.headers);
    let after = browser.login(&a, &page, "alice", PASSWORD).await;
    assert!(after.is_consent());
    let session_a = set_cookies(&after.headers)
        .into_iter()
        .find(|(n, _)| n == "latchkey_session")
        .unwrap()
        .1;
    let csrf_cookie = &csrf_a.iter().find(|(n, _)| n == "latchkey_csrf").unwrap().1;
    let cookies = format!("latchkey_session={session_a}; latchkey_csrf={csrf_cookie}");
    let before = b.stored().await;

    // A's session at B: not signed in.
    let resp = get_with_cookie(
        &b,
        &authorize_url(&b, "web", &challenge, "&prompt=none"),
        &cookies,
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=login_required")
    );
    // A's CSRF token (with A's cookie) on B's forms: 403.
    let form = [
        ("csrf_token", page.input("csrf_token").unwrap()),
        ("req", page.input("req").unwrap()),
        ("username", "alice".to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let resp = b
        .http
        .post(b.url("/login"))
        .header("cookie", &cookies)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // A's ticket inside a form that is otherwise valid at B: an error page, no sign-in.
    let b_page = Browser::new();
    let own = b_page.get(&authorize_url(&b, "web", &challenge, "")).await;
    let resp = b_page
        .post(
            &b.url("/login"),
            &[
                ("csrf_token", &own.input("csrf_token").unwrap()),
                ("req", &page.input("req").unwrap()),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(resp.status, 400);
    assert!(resp.body.contains("expired or is not valid"));
    assert_eq!(b.stored().await, before);
}

#[tokio::test]
async fn consent_without_this_browsers_csrf_token_is_refused_and_stores_nothing() {
    let (app, browser, page) = crate::flow::at_login_page().await;
    let (_, challenge) = pkce();
    let consent = browser.login(&app, &page, "alice", PASSWORD).await;
    assert!(consent.is_consent());
    let req = consent.input("req").unwrap();
    let before = app.stored().await;
    let other = Browser::new();
    let theirs = other.get(&authorize_url(&app, "web", &challenge, "")).await;
    for csrf in [
        None,
        Some(theirs.input("csrf_token").unwrap()),
        Some("x".to_owned()),
    ] {
        let mut form = vec![("req", req.as_str()), ("decision", "allow")];
        if let Some(c) = &csrf {
            form.push(("csrf_token", c));
        }
        let resp = browser.post(&app.url("/consent"), &form).await;
        assert_eq!(resp.status, 403, "{csrf:?}");
        assert!(resp.location.is_none());
    }
    assert_eq!(app.stored().await, before, "no consent, grant or code");
}
