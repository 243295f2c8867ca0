//! The operator's brand and the person's language on the real pages: settings in, HTML and
//! stylesheets out.
use crate::flow::{Browser, PASSWORD, authorize_url, pkce, user, web_client};
use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn branding_settings_show_on_the_pages_and_in_the_theme() {
    // Arrange: a brand with a local logo, colours and an extra stylesheet.
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("acme.png");
    std::fs::write(&logo, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let assets = dir.path().join("assets");
    std::fs::create_dir(&assets).unwrap();
    std::fs::write(
        assets.join("acme.css"),
        ".brand-name { letter-spacing: 0.1em; }",
    )
    .unwrap();
    std::fs::write(assets.join("notes.html"), "<script>no</script>").unwrap();
    let app = spawn_app_with(|s| {
        s.branding.product_name = "Acme Identity".into();
        s.branding.logo = Some(logo.display().to_string());
        s.branding.primary_color = Some("#0a7d33".into());
        s.branding.background_color = Some("#fdf6e3".into());
        s.branding.assets_dir = Some(assets.clone());
        s.branding.stylesheet = Some("acme.css".into());
    })
    .await;
    web_client(&app, "webapp").await;
    let (_, challenge) = pkce();

    // Act
    let login = Browser::new()
        .get(&authorize_url(&app, "webapp", &challenge, ""))
        .await;
    let logout = Browser::new().get(&app.url("/logout")).await;
    let error = Browser::new()
        .get(&app.url("/authorize?client_id=nobody"))
        .await;

    // Assert: every page carries the name, the logo and both stylesheets.
    for (name, page) in [("login", &login), ("logout", &logout), ("error", &error)] {
        assert!(
            page.body
                .contains("<span class=\"brand-name\">Acme Identity</span>"),
            "{name}: {}",
            page.body
        );
        assert!(page.body.contains("· Acme Identity</title>"), "{name}");
        assert!(!page.body.contains("Latchkey"), "{name}: {}", page.body);
        assert!(
            page.body.contains(r#"src="/static/brand-logo?v="#),
            "{name}"
        );
        assert!(
            page.body.contains(r#"href="/static/theme.css?v="#),
            "{name}"
        );
        assert!(page.body.contains(r#"href="/branding/acme.css""#), "{name}");
    }
    let theme = app
        .http
        .get(app.url("/static/theme.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(theme.headers()["content-type"], "text/css; charset=utf-8");
    let css = theme.text().await.unwrap();
    assert!(css.contains("--primary: #0a7d33;"), "{css}");
    assert!(css.contains("--bg: #fdf6e3;"), "{css}");
    let logo = app
        .http
        .get(app.url("/static/brand-logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert!(logo.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let sheet = app
        .http
        .get(app.url("/branding/acme.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(sheet.status(), 200);
    assert!(sheet.text().await.unwrap().contains("letter-spacing"));
    // The folder publishes no pages and no paths outside it.
    for path in [
        "/branding/notes.html",
        "/branding/..%2Facme.png",
        "/branding/missing.css",
    ] {
        let resp = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn an_external_logo_is_allowed_by_the_pages_csp() {
    let app = spawn_app_with(|s| {
        s.branding.logo = Some("https://cdn.acme.example/brand/logo.svg".into());
    })
    .await;

    let page = Browser::new().get(&app.url("/logout")).await;

    assert!(
        page.body
            .contains(r#"src="https://cdn.acme.example/brand/logo.svg""#)
    );
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("img-src 'self' https://cdn.acme.example;"),
        "{csp}"
    );
}

#[tokio::test]
async fn without_branding_the_theme_changes_nothing() {
    let app = spawn_app().await;

    let css = app
        .http
        .get(app.url("/static/theme.css"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let page = Browser::new().get(&app.url("/logout")).await;

    assert!(!css.contains(":root"), "{css}");
    assert!(
        page.body
            .contains("<span class=\"brand-name\">Latchkey</span>")
    );
    assert!(page.body.contains(r#"src="/static/logo.svg""#));
}

#[tokio::test]
async fn ui_locales_carries_german_through_login_and_consent() {
    // Arrange
    let app = spawn_app().await;
    web_client(&app, "webapp").await;
    user(&app, "alice").await;
    let browser = Browser::new();
    let (_, challenge) = pkce();

    // Act: ui_locales on /authorize, an English browser.
    let login = browser
        .get(&authorize_url(
            &app,
            "webapp",
            &challenge,
            "&ui_locales=fr-CA%20de-CH",
        ))
        .await;
    let wrong = browser
        .login(&app, &login, "alice", "not the password")
        .await;
    let consent = browser.login(&app, &wrong, "alice", PASSWORD).await;

    // Assert: every page of this request is German, with lang set.
    assert!(login.is_login());
    for page in [&login, &wrong, &consent] {
        assert!(page.body.contains(r#"<html lang="de">"#), "{}", page.body);
        assert!(
            page.body.contains("Geschützt durch Latchkey."),
            "{}",
            page.body
        );
    }
    assert!(login.body.contains("<h1>Anmelden</h1>"));
    assert!(
        login
            .body
            .contains("weiter zu <strong>Example Web App</strong>")
    );
    assert!(
        wrong
            .body
            .contains("Benutzername oder Passwort ist falsch.")
    );
    assert!(consent.is_consent());
    assert!(consent.body.contains("möchte auf Ihr Konto zugreifen"));
    assert!(consent.body.contains("Ihre E-Mail-Adresse sehen"));
    assert!(consent.body.contains(">Erlauben</button>"));
}

#[tokio::test]
async fn accept_language_chooses_the_page_language_by_q_value() {
    let app = spawn_app().await;
    let get = |lang: &'static str| {
        let app = &app;
        async move {
            let resp = app
                .http
                .get(app.url("/logout"))
                .header("accept-language", lang)
                .send()
                .await
                .unwrap();
            resp.text().await.unwrap()
        }
    };

    let german = get("en;q=0.4, de-DE;q=0.9").await;
    let english = get("de;q=0, en").await;
    let unknown = get("ja").await;

    assert!(german.contains(r#"<html lang="de">"#), "{german}");
    assert!(german.contains("Von Latchkey abmelden?"), "{german}");
    assert!(german.contains("Sie sind in diesem Browser nicht angemeldet."));
    assert!(english.contains(r#"<html lang="en">"#));
    assert!(english.contains("Sign out of Latchkey?"), "{english}");
    assert!(unknown.contains(r#"<html lang="en">"#));
}

#[tokio::test]
async fn an_invalid_request_asking_for_german_gets_a_german_error_page() {
    let app = spawn_app().await;

    let page = Browser::new()
        .get(&app.url("/authorize?client_id=nobody&ui_locales=de"))
        .await;

    assert_eq!(page.status, 400);
    assert!(page.body.contains(r#"<html lang="de">"#), "{}", page.body);
    assert!(
        page.body.contains("Diese Anmeldeanfrage ist ungültig"),
        "{}",
        page.body
    );
}
