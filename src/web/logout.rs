//! GET /logout (a confirmation form) and POST /logout (ends the Latchkey session). Only the
//! session at Latchkey ends; relying parties keep theirs (no RP-initiated logout yet).
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::AppState;
use super::pages::{
    csrf_token, error_page, expired_session_cookie, page_form, render, session_cookie_name,
};
use super::ui::Page;
use super::views::{LoggedOutView, LogoutView};

pub async fn logout_get(State(s): State<AppState>, page: Page, jar: CookieJar) -> Response {
    let p = &s.provider;
    let chrome = page.chrome(None);
    let cookie = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    let user_display = match p.current_session(cookie.as_deref()).await {
        Ok(session) => session.map(|(_, u)| u.name.unwrap_or(u.username)),
        Err(e) => return error_page(&chrome, &e),
    };
    let (jar, csrf) = csrf_token(p, jar);
    let view = LogoutView {
        chrome: &chrome,
        user_display,
        csrf_token: csrf,
    };
    (jar, render(&chrome, StatusCode::OK, &view, None)).into_response()
}

pub async fn logout_post(
    State(s): State<AppState>,
    page: Page,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &s.provider;
    let chrome = page.chrome(None);
    if let Err(page) = page_form(p, &chrome, &jar, &headers, &body) {
        return *page;
    }
    let name = session_cookie_name(p);
    let cookie = jar.get(name).map(|c| c.value().to_owned());
    if let Err(e) = p.sign_out(cookie.as_deref()).await {
        return error_page(&chrome, &e);
    }
    let jar = jar.add(expired_session_cookie(p));
    let view = LoggedOutView { chrome: &chrome };
    (jar, render(&chrome, StatusCode::OK, &view, None)).into_response()
}
