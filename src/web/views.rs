//! View models for the human pages of the sign-in flow (login, consent, error, signed out).
//!
//! Each struct is exactly the data one template in `templates/` needs; there is no logic here
//! beyond turning a scope name into plain words. Handlers build a view and render it with
//! `askama::Template::render` into a String, then build the axum response themselves
//! (askama 0.16 has no axum integration).
//!
//! Every value is HTML-escaped by askama because the templates are `.html`; never add `|safe`
//! to a template expression that can carry client- or user-supplied data (client names,
//! usernames, error text). Only `web/` may depend on this module.
use askama::Template;

/// `GET /login` and a failed `POST /login`.
#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginView {
    /// Display name of the client the user is signing in to, if known.
    pub client_name: Option<String>,
    /// A message for the user, e.g. "Incorrect username or password."; never an internal cause.
    pub error: Option<String>,
    pub csrf_token: String,
    /// Opaque reference to the pending authorization request, posted back unchanged.
    pub req: String,
    /// Prefilled after a failed attempt; empty on the first visit.
    pub username: String,
}

/// One requested permission on the consent page.
pub struct ScopeItem {
    /// The raw scope value, shown small for the technically curious.
    pub name: String,
    /// Plain words, usually from [`describe_scope`].
    pub description: String,
}

/// `GET /consent`: the user approves or denies a client's requested scopes.
#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentView {
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
pub struct ErrorView {
    pub title: String,
    pub message: String,
    /// The HTTP status the handler responds with, shown small for support requests.
    pub status: u16,
}

/// Shown after the session has been ended.
#[derive(Template)]
#[template(path = "logged_out.html")]
pub struct LoggedOutView {}

/// The sign-out confirmation: a form, so that a link on another site cannot sign anyone out.
#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutView {
    pub user_display: Option<String>,
    pub csrf_token: String,
}

/// Plain-words description of a scope for the consent page.
pub fn describe_scope(name: &str) -> String {
    match name {
        "openid" => "Confirm who you are (your account identifier)".to_owned(),
        "profile" => "See your name and username".to_owned(),
        "email" => "See your email address and whether it is verified".to_owned(),
        "offline_access" => "Stay connected when you are not using the app".to_owned(),
        other => format!("Access \"{other}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render<T: Template>(view: &T) -> String {
        view.render().expect("template renders")
    }

    const EVIL: &str = "<script>alert(1)</script>";

    fn login(client_name: Option<&str>, error: Option<&str>, username: &str) -> LoginView {
        LoginView {
            client_name: client_name.map(str::to_owned),
            error: error.map(str::to_owned),
            csrf_token: "csrf-123".to_owned(),
            req: "req-456".to_owned(),
            username: username.to_owned(),
        }
    }

    #[test]
    fn login_escapes_client_name_username_and_error() {
        let html = render(&login(Some(EVIL), Some(EVIL), "\"><img src=x>"));

        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(html.contains("alert(1)"));
    }

    #[test]
    fn login_carries_hidden_fields_and_autocomplete_hints() {
        let html = render(&login(None, None, ""));

        assert!(html.contains(r#"name="csrf_token" value="csrf-123""#));
        assert!(html.contains(r#"name="req" value="req-456""#));
        assert!(html.contains(r#"autocomplete="username""#));
        assert!(html.contains(r#"autocomplete="current-password""#));
        assert!(!html.contains("role=\"alert\""));
        assert!(!html.contains("to continue to"));
    }

    #[test]
    fn login_shows_error_as_alert() {
        let html = render(&login(
            Some("Demo"),
            Some("Incorrect username or password."),
            "ann",
        ));

        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("<strong>Demo</strong>"));
    }

    #[test]
    fn consent_escapes_client_name_and_scopes() {
        let view = ConsentView {
            client_name: EVIL.to_owned(),
            user_display: EVIL.to_owned(),
            scopes: vec![ScopeItem {
                name: EVIL.to_owned(),
                description: describe_scope(EVIL),
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
        let view = ErrorView {
            title: EVIL.to_owned(),
            message: EVIL.to_owned(),
            status: 400,
        };

        let html = render(&view);

        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<a "), "{html}");
        assert!(html.contains("400"));
    }

    #[test]
    fn logged_out_renders() {
        assert!(render(&LoggedOutView {}).contains("You have signed out."));
    }

    #[test]
    fn known_scopes_are_described_in_plain_words() {
        assert_eq!(
            describe_scope("email"),
            "See your email address and whether it is verified"
        );
        assert_eq!(describe_scope("calendar.read"), "Access \"calendar.read\"");
    }
}
