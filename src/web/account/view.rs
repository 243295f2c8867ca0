//! The account page's view model: what `templates/account.html` shows, in the language of
//! the request, built from the protocol's `AccountOverview`.
use askama::Template;

use crate::oauth::account::AccountOverview;
use crate::oauth::authn::AuthMethod;
use crate::web::authorize::ordered;
use crate::web::ui::Chrome;
use crate::web::views::ScopeItem;

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountView<'a> {
    pub chrome: &'a Chrome<'a>,
    pub username: String,
    pub name: String,
    pub email: String,
    pub has_email: bool,
    pub email_verified: bool,
    /// A confirmation of the last change, at the top of the page.
    pub notice: Option<String>,
    pub profile_error: Option<String>,
    pub password_error: Option<String>,
    pub methods: Vec<MethodItem>,
    pub apps: Vec<AppItem>,
    pub sessions: Vec<SessionRow>,
    pub csrf_token: String,
}

/// One line of "Sign-in methods": what the person has, and where to manage it.
pub struct MethodItem {
    pub name: String,
    pub status: String,
    pub manage: Option<Link>,
}

pub struct Link {
    pub href: String,
    pub label: String,
}

pub struct AppItem {
    pub client_id: String,
    pub name: String,
    /// "Allowed on 2026-11-29".
    pub granted: String,
    pub scopes: Vec<ScopeItem>,
}

pub struct SessionRow {
    pub sid: String,
    pub device: String,
    pub address: String,
    pub signed_in: String,
    pub last_seen: String,
    /// How the person signed in, in words ("password and authenticator code").
    pub how: String,
    pub current: bool,
}

/// Messages shown next to one form after a refused change.
#[derive(Default)]
pub struct FormErrors {
    pub profile: Option<String>,
    pub password: Option<String>,
}

impl<'a> AccountView<'a> {
    pub fn new(
        chrome: &'a Chrome<'a>,
        overview: &AccountOverview,
        csrf_token: String,
        notice: Option<String>,
        errors: FormErrors,
    ) -> Self {
        let t = chrome.t;
        let user = &overview.user;
        let apps = overview
            .apps
            .iter()
            .map(|app| AppItem {
                client_id: app.client_id.clone(),
                name: app.name.clone(),
                granted: t.apps_granted.replace("{date}", &day(app.granted_at)),
                scopes: ordered(&app.scope)
                    .into_iter()
                    .map(|s| ScopeItem {
                        name: s.as_str().to_owned(),
                        description: t.describe_scope(s.as_str()),
                    })
                    .collect(),
            })
            .collect();
        let sessions = overview
            .sessions
            .iter()
            .map(|item| {
                let s = &item.session;
                SessionRow {
                    sid: item.sid.clone(),
                    device: s
                        .device
                        .clone()
                        .unwrap_or_else(|| t.sessions_unknown_device.clone()),
                    address: s
                        .source_ip
                        .clone()
                        .unwrap_or_else(|| t.sessions_unknown_address.clone()),
                    signed_in: minute(s.auth_time),
                    last_seen: minute(s.last_seen_at),
                    how: how(chrome, &s.amr),
                    current: item.current,
                }
            })
            .collect();
        Self {
            chrome,
            username: user.username.clone(),
            name: user.name.clone().unwrap_or_default(),
            email: user.email.clone().unwrap_or_default(),
            has_email: user.email.is_some(),
            email_verified: user.email_verified,
            notice,
            profile_error: errors.profile,
            password_error: errors.password,
            methods: sign_in_methods(chrome, overview),
            apps,
            sessions,
            csrf_token,
        }
    }
}

/// The "Sign-in methods" list. Each method adds its own line here (from what
/// `AccountOverview` says the person has), with a link to its management page when it has one.
fn sign_in_methods(chrome: &Chrome<'_>, overview: &AccountOverview) -> Vec<MethodItem> {
    let t = chrome.t;
    let mut methods = vec![
        MethodItem {
            name: t.method_password.clone(),
            status: t.method_password_status.clone(),
            manage: Some(Link {
                href: "#password".into(),
                label: t.password_change.clone(),
            }),
        },
        MethodItem {
            name: t.method_authenticator.clone(),
            status: t.method_authenticator_status.clone(),
            manage: Some(Link {
                href: "/account/two-factor".into(),
                label: t.method_authenticator_manage.clone(),
            }),
        },
    ];
    if let Some(count) = overview.passkeys {
        methods.push(MethodItem {
            name: t.passkeys_title.clone(),
            status: match count {
                0 => t.passkeys_none.clone(),
                n => t.method_passkeys_status.replace("{count}", &n.to_string()),
            },
            manage: Some(Link {
                href: "/account/passkeys".into(),
                label: t.method_passkeys_manage.clone(),
            }),
        });
    }
    methods
}

/// `amr` in words: the methods, and whether that made two factors.
fn how(chrome: &Chrome<'_>, amr: &[AuthMethod]) -> String {
    let t = chrome.t;
    let mut words: Vec<&str> = Vec::new();
    for m in amr {
        let word = match m {
            AuthMethod::Pwd => &t.amr_pwd,
            AuthMethod::Otp => &t.amr_otp,
            AuthMethod::Hwk | AuthMethod::Swk => &t.amr_key,
            AuthMethod::User | AuthMethod::Mfa => continue,
        };
        if !words.contains(&word.as_str()) {
            words.push(word);
        }
    }
    let mut text = words.join(", ");
    if amr.contains(&AuthMethod::Mfa) {
        text = format!("{text} ({})", t.amr_mfa);
    }
    text
}

/// `2026-11-29` (UTC).
fn day(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(d) => format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()),
        Err(_) => String::new(),
    }
}

/// `2026-11-29 19:55 UTC`.
fn minute(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(d) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute()
        ),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::{day, minute};

    #[test]
    fn dates_are_utc() {
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(minute(1_764_445_500), "2025-11-29 19:45 UTC");
    }
}
