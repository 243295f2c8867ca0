//! `/logout`: the sign-out page and the end-session endpoint of OpenID Connect
//! RP-Initiated Logout 1.0. Without parameters, GET shows a confirmation form and POST (with
//! its CSRF token) ends the Latchkey session. With end-session parameters (GET query or a
//! form POST from the relying party), `Provider::end_session` decides: end the session at
//! once and redirect, or show the confirmation form carrying the sealed request.
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::extract::is_form;
use super::pages::{
    csrf_token, error_page, expired_session_cookie, form_action_source, page_form, redirect,
    render, session_cookie_name,
};
use super::ui::{Chrome, Page};
use super::views::{LoggedOutView, LogoutView};
use super::{AppState, ClientAddr};
use crate::oauth::end_session::EndSessionStep;

/// Parameters of OpenID Connect RP-Initiated Logout 1.0 section 2.
const END_SESSION_PARAMS: [&str; 6] = [
    "id_token_hint",
    "logout_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "ui_locales",
];

pub async fn logout_get(
    State(s): State<AppState>,
    page: Page,
    jar: CookieJar,
    addr: ClientAddr,
    RawQuery(query): RawQuery,
) -> Response {
    match query.filter(|q| !q.is_empty()) {
        Some(raw) => end_session(&s, &page, jar, addr, &raw).await,
        None => confirmation(&s, &page.chrome(None), jar, None, None).await,
    }
}

pub async fn logout_post(
    State(s): State<AppState>,
    page: Page,
    jar: CookieJar,
    addr: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A relying party's form POST (section 2) carries end-session parameters and no CSRF
    // token; anything else is the confirmation form and must pass the CSRF check.
    if is_form(&headers) && is_end_session_request(&body) {
        let raw = String::from_utf8_lossy(&body).into_owned();
        return end_session(&s, &page, jar, addr, &raw).await;
    }
    let p = &s.provider;
    let chrome = page.chrome(None);
    let form = match page_form(p, &chrome, &jar, &headers, &body) {
        Ok(form) => form,
        Err(page) => return *page,
    };
    let cookie = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    let jar = jar.add(expired_session_cookie(p));
    match form.get("ticket") {
        Some(ticket) => match p
            .confirm_end_session(ticket, cookie.as_deref(), addr.0)
            .await
        {
            Ok(Some(url)) => (jar, redirect(&url)).into_response(),
            Ok(None) => (jar, logged_out(&chrome)).into_response(),
            Err(e) => error_page(&chrome, &e),
        },
        None => match p.sign_out(cookie.as_deref()).await {
            Ok(()) => (jar, logged_out(&chrome)).into_response(),
            Err(e) => error_page(&chrome, &e),
        },
    }
}

fn is_end_session_request(body: &[u8]) -> bool {
    let mut names = url::form_urlencoded::parse(body).map(|(k, _)| k);
    names.all(|k| k != "csrf_token")
        && url::form_urlencoded::parse(body).any(|(k, _)| END_SESSION_PARAMS.contains(&&*k))
}

async fn end_session(
    s: &AppState,
    page: &Page,
    jar: CookieJar,
    addr: ClientAddr,
    raw: &str,
) -> Response {
    let p = &s.provider;
    let ui_locales = url::form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == "ui_locales")
        .map(|(_, v)| v.into_owned());
    let chrome = page.chrome(ui_locales.as_deref());
    let cookie = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    match p.end_session(raw, cookie.as_deref(), addr.0).await {
        Err(e) => error_page(&chrome, &e),
        Ok(EndSessionStep::Done { redirect: to }) => {
            let jar = jar.add(expired_session_cookie(p));
            match to {
                Some(url) => (jar, redirect(&url)).into_response(),
                None => (jar, logged_out(&chrome)).into_response(),
            }
        }
        Ok(EndSessionStep::Confirm {
            ticket,
            user,
            client_name,
            redirect,
        }) => {
            let confirm = Confirm {
                ticket,
                client_name,
                form_action: redirect.as_deref().map(form_action_source),
            };
            let name = user.name.unwrap_or(user.username);
            confirmation(s, &chrome, jar, Some(name), Some(confirm)).await
        }
    }
}

/// What the confirmation form carries for an end-session request.
struct Confirm {
    ticket: String,
    client_name: Option<String>,
    /// CSP `form-action` must allow the redirect that follows the submission.
    form_action: Option<String>,
}

async fn confirmation(
    s: &AppState,
    chrome: &Chrome<'_>,
    jar: CookieJar,
    user_display: Option<String>,
    confirm: Option<Confirm>,
) -> Response {
    let p = &s.provider;
    let user_display = match user_display {
        Some(name) => Some(name),
        None => {
            let cookie = jar
                .get(session_cookie_name(p))
                .map(|c| c.value().to_owned());
            match p.current_session(cookie.as_deref()).await {
                Ok(session) => session.map(|(_, u)| u.name.unwrap_or(u.username)),
                Err(e) => return error_page(chrome, &e),
            }
        }
    };
    let (jar, csrf) = csrf_token(p, jar);
    let (ticket, client_name, form_action) = match confirm {
        Some(c) => (Some(c.ticket), c.client_name, c.form_action),
        None => (None, None, None),
    };
    let view = LogoutView {
        chrome,
        user_display,
        csrf_token: csrf,
        ticket,
        client_name,
    };
    let resp = render(chrome, StatusCode::OK, &view, form_action.as_deref());
    (jar, resp).into_response()
}

fn logged_out(chrome: &Chrome<'_>) -> Response {
    render(chrome, StatusCode::OK, &LoggedOutView { chrome }, None)
}
