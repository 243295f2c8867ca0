//! GET /signin?return_to=...: the login page without an authorization request (for the
//! account page and for gateways), and the login page itself, shared with `/authorize`.
//! The form posts to `/login` like any other.
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::AppState;
use super::pages::{
    csrf_token, error_page, form_action_source, redirect, render, render_scripted,
    session_cookie_name,
};
use super::ui::{Chrome, Page};
use super::views::LoginView;
use crate::oauth::signin::{LoginPrompt, SignInPage};
use crate::oauth::{Params, Provider};

pub async fn sign_in_get(
    State(s): State<AppState>,
    page: Page,
    jar: CookieJar,
    RawQuery(q): RawQuery,
) -> Response {
    let p = &s.provider;
    let chrome = page.chrome(None);
    let params = match Params::parse(q.unwrap_or_default().as_bytes()) {
        Ok(params) => params,
        Err(e) => return error_page(&chrome, &e),
    };
    let cookie = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    match p
        .sign_in_page(params.get("return_to"), cookie.as_deref())
        .await
    {
        Ok(SignInPage::Return(url)) => redirect(&url),
        Ok(SignInPage::Login { prompt, ticket }) => {
            login_page(p, &chrome, jar, &prompt, ticket, None, String::new())
        }
        Err(e) => error_page(&chrome, &e),
    }
}

/// The login form for a sealed ticket, with an optional message and a prefilled username.
pub(super) fn login_page(
    p: &Provider,
    chrome: &Chrome,
    jar: CookieJar,
    prompt: &LoginPrompt,
    ticket: String,
    error: Option<String>,
    username: String,
) -> Response {
    let (jar, csrf) = csrf_token(p, jar);
    let view = LoginView {
        chrome,
        client_name: prompt.client_name.clone(),
        error,
        csrf_token: csrf,
        req: ticket,
        username,
        passkeys: p.passkeys_enabled(),
    };
    let action = form_action_source(&prompt.destination);
    let page = if view.passkeys {
        render_scripted(chrome, StatusCode::OK, &view, Some(&action))
    } else {
        render(chrome, StatusCode::OK, &view, Some(&action))
    };
    (jar, page).into_response()
}
