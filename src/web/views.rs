//! View models for the human pages of the sign-in flow (login, consent, error, signed out).
//!
//! Each struct is exactly the data one template in `templates/` needs, plus the `Chrome`
//! (brand and language) that `base.html` wears; the words come from the catalogue in it. Handlers build a view and render it with
//! `askama::Template::render` into a String, then build the axum response themselves
//! (askama 0.16 has no axum integration).
//!
//! Every value is HTML-escaped by askama because the templates are `.html`; never add `|safe`
//! to a template expression that can carry client- or user-supplied data (client names,
//! usernames, error text). Only `web/` may depend on this module.
use askama::Template;

use super::ui::Chrome;

/// `GET /login` and a failed `POST /login`.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginView<'a> {
    pub chrome: &'a Chrome<'a>,
    /// Display name of the client the user is signing in to, if known.
    pub client_name: Option<String>,
    /// A message for the user, e.g. "Incorrect username or password."; never an internal cause.
    pub error: Option<String>,
    pub csrf_token: String,
    /// Opaque reference to the pending authorization request, posted back unchanged.
    pub req: String,
    /// Prefilled after a failed attempt; empty on the first visit.
    pub username: String,
    /// Offer "Sign in with a passkey" (and passkeys in the username's autofill).
    pub passkeys: bool,
}

/// One requested permission on the consent page.
pub struct ScopeItem {
    /// The raw scope value, shown small for the technically curious.
    pub name: String,
    /// Plain words, from `Messages::describe_scope`.
    pub description: String,
}

/// `GET /consent`: the user approves or denies a client's requested scopes.
#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentView<'a> {
    pub chrome: &'a Chrome<'a>,
    pub client_name: String,
    /// How the signed-in user is shown, e.g. their username.
    pub user_display: String,
    pub scopes: Vec<ScopeItem>,
    /// True when the user has approved this client before and `scopes` lists only the additions.
    pub new_scopes_only: bool,
    pub csrf_token: String,
    /// Opaque reference to the pending authorization request, posted back unchanged.
    pub req: String,
}

/// A human error page, used when we must not redirect back to the client (RFC 6749 section
/// 4.1.2.1: an invalid `client_id` or `redirect_uri` is reported to the user, not the client).
/// The template deliberately links nowhere.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorView<'a> {
    pub chrome: &'a Chrome<'a>,
    pub title: String,
    pub message: String,
    /// The protocol's technical description, when there is one.
    pub detail: Option<String>,
    /// The HTTP status the handler responds with, shown small for support requests.
    pub status: u16,
}

/// Shown after the session has been ended.
#[derive(Template)]
#[template(path = "logged_out.html")]
pub struct LoggedOutView<'a> {
    pub chrome: &'a Chrome<'a>,
}

/// The sign-out confirmation: a form, so that a link on another site cannot sign anyone out.
#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutView<'a> {
    pub chrome: &'a Chrome<'a>,
    pub user_display: Option<String>,
    pub csrf_token: String,
    /// The sealed end-session request, when an application asked for the sign-out.
    pub ticket: Option<String>,
    /// The application that asked, when it is known.
    pub client_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::branding::Theme;
    use crate::config::BrandingSettings;
    use crate::i18n::Catalogues;

    fn render<T: Template>(view: &T) -> String {
        view.render().expect("template renders")
    }

    const EVIL: &str = "<script>alert(1)</script>";

    struct Kit {
        theme: Theme,
        catalogues: Catalogues,
    }

    impl Kit {
        fn new(branding: BrandingSettings) -> Self {
            Self {
                theme: Theme::load(&branding).unwrap(),
                catalogues: Catalogues::load().unwrap(),
            }
        }

        fn english() -> Self {
            Self::new(BrandingSettings::default())
        }

        fn chrome(&self, lang: &str) -> Chrome<'_> {
            let c = self.catalogues.choose(Some(lang), None);
            Chrome {
                lang: c.lang,
                t: &c.messages,
                brand: &self.theme,
            }
        }
    }

    fn login<'a>(
        chrome: &'a Chrome<'a>,
        client_name: Option<&str>,
        error: Option<&str>,
        username: &str,
    ) -> LoginView<'a> {
        LoginView {
            chrome,
            client_name: client_name.map(str::to_owned),
            error: error.map(str::to_owned),
            csrf_token: "csrf-123".to_owned(),
            req: "req-456".to_owned(),
            username: username.to_owned(),
            passkeys: false,
        }
    }

    #[test]
    fn login_escapes_client_name_username_and_error() {
        let kit = Kit::english();
        let chrome = kit.chrome("en");
        let html = render(&login(&chrome, Some(EVIL), Some(EVIL), "\"><img src=x>"));

        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(html.contains("alert(1)"));
    }

    #[test]
    fn login_carries_hidden_fields_and_autocomplete_hints() {
        let kit = Kit::english();
        let chrome = kit.chrome("en");
        let html = render(&login(&chrome, None, None, ""));

        assert!(html.contains(r#"name="csrf_token" value="csrf-123""#));
        assert!(html.contains(r#"name="req" value="req-456""#));
        assert!(html.contains(r#"autocomplete="username""#));
        assert!(html.contains(r#"autocomplete="current-password""#));
        assert!(!html.contains("role=\"alert\""));
        assert!(!html.contains("to continue to"));
        assert!(html.contains(r#"<html lang="en">"#));
    }

    #[test]
    fn login_shows_error_as_alert() {
        let kit = Kit::english();
        let chrome = kit.chrome("en");
        let html = render(&login(
            &chrome,
            Some("Demo"),
            Some("Incorrect username or password."),
            "ann",
        ));

        assert!(html.contains("role=\"alert\""));
        assert!(
            html.contains("to continue to <strong>Demo</strong>"),
            "{html}"
        );
    }

    #[test]
    fn consent_escapes_client_name_and_scopes() {
        let kit = Kit::english();
        let chrome = kit.chrome("en");
        let view = ConsentView {
            chrome: &chrome,
            client_name: EVIL.to_owned(),
            user_display: EVIL.to_owned(),
            scopes: vec![ScopeItem {
                name: EVIL.to_owned(),
                description: chrome.t.describe_scope(EVIL),
            }],
            new_scopes_only: true,
            csrf_token: "c".to_owned(),
            req: "r".to_owned(),
        };

        let html = render(&view);

        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains(r#"name="decision" value="allow""#));
        assert!(html.contains(r#"name="decision" value="deny""#));
        assert!(html.contains("this adds"));
    }

    #[test]
    fn error_page_escapes_and_links_nowhere() {
        let kit = Kit::english();
        let chrome = kit.chrome("en");
        let view = ErrorView {
            chrome: &chrome,
            title: EVIL.to_owned(),
            message: EVIL.to_owned(),
            detail: Some(EVIL.to_owned()),
            status: 400,
        };

        let html = render(&view);

        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<a "), "{html}");
        assert!(html.contains("400"));
    }

    #[test]
    fn logged_out_renders() {
        let kit = Kit::english();
        let chrome = kit.chrome("en");
        assert!(render(&LoggedOutView { chrome: &chrome }).contains("You have signed out."));
    }

    #[test]
    fn pages_render_in_german_with_lang_set() {
        let kit = Kit::english();
        let chrome = kit.chrome("de");
        let html = render(&login(&chrome, Some("Shop"), None, ""));

        assert!(html.contains(r#"<html lang="de">"#), "{html}");
        assert!(html.contains("<h1>Anmelden</h1>"), "{html}");
        assert!(html.contains("weiter zu <strong>Shop</strong>"), "{html}");
        assert!(html.contains("Geschützt durch"), "{html}");
        assert!(!html.contains("Password"), "{html}");
    }

    #[test]
    fn branding_reaches_every_page() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("brand.css"), "body{}").unwrap();
        let kit = Kit::new(BrandingSettings {
            product_name: "Acme <ID>".into(),
            logo: Some("https://cdn.acme.example/logo.png".into()),
            primary_color: Some("#0a7d33".into()),
            assets_dir: Some(dir.path().to_owned()),
            stylesheet: Some("brand.css".into()),
            ..BrandingSettings::default()
        });
        let chrome = kit.chrome("en");
        let pages = [
            render(&login(&chrome, None, None, "")),
            render(&LoggedOutView { chrome: &chrome }),
            render(&LogoutView {
                chrome: &chrome,
                user_display: None,
                csrf_token: "c".into(),
                ticket: Some("t".into()),
                client_name: Some("Example".into()),
            }),
            render(&ErrorView {
                chrome: &chrome,
                title: "t".into(),
                message: "m".into(),
                detail: None,
                status: 400,
            }),
        ];
        for html in pages {
            assert!(html.contains("Acme &#60;ID&#62;"), "{html}");
            assert!(!html.contains("Latchkey"), "{html}");
            assert!(html.contains(r#"href="/static/theme.css?v="#), "{html}");
            assert!(html.contains(r#"href="/branding/brand.css""#), "{html}");
            assert!(
                html.contains(r#"src="https://cdn.acme.example/logo.png""#),
                "{html}"
            );
        }
    }
}

/// One row of the passkey list.
pub struct PasskeyItem {
    pub id: String,
    pub name: String,
    /// Dates (YYYY-MM-DD, UTC) or the catalogue's "never".
    pub created: String,
    pub last_used: String,
}

/// `GET /account/passkeys`: the person's passkeys, rename and remove forms, and the form
/// that registers a new one (through `static/passkeys.js`).
#[derive(Template)]
#[template(path = "account_passkeys.html")]
pub struct AccountPasskeysView<'a> {
    pub chrome: &'a Chrome<'a>,
    pub passkeys: Vec<PasskeyItem>,
    /// What the last action did ("Passkey added.").
    pub notice: Option<String>,
    /// Why the last action was refused; never an internal cause.
    pub error: Option<String>,
    pub csrf_token: String,
}
