//! `/account/passkeys`: the signed-in person's passkeys. List, register (the WebAuthn
//! options come from `POST /account/passkeys/options`, the browser's answer in the form),
//! rename and remove; every form CSRF-protected, every text from the catalogue.
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::error::ApiError;
use super::pages::{csrf_token, page_form, redirect, render_scripted, session_cookie_name};
use super::passkeys::{options_request_ok, options_response, take_ceremony_cookie};
use super::ui::{Chrome, Page};
use super::views::{AccountPasskeysView, PasskeyItem};
use super::{AppState, ClientAddr};
use crate::oauth::model::User;
use crate::oauth::passkeys::PasskeyError;
use crate::oauth::{OAuthError, Provider};

const PAGE: &str = "/account/passkeys";

/// `?done=` after a successful action (post/redirect/get).
#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// The signed-in user, or the response that sends the browser to sign in first.
async fn signed_in(p: &Provider, page: &Page, jar: &CookieJar) -> Result<User, Response> {
    let cookie = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    match p.current_session(cookie.as_deref()).await {
        Ok(Some((_, user))) => Ok(user),
        Ok(None) => Err(redirect(&format!(
            "/signin?return_to={}",
            percent_encoding::utf8_percent_encode(PAGE, percent_encoding::NON_ALPHANUMERIC)
        ))),
        Err(e) => Err(super::pages::error_page(&page.chrome(None), &e)),
    }
}

/// A posted form of this page (CSRF token checked) and the signed-in user, or the response
/// that refuses it.
async fn posted(
    p: &Provider,
    page: &Page,
    chrome: &Chrome<'_>,
    jar: &CookieJar,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(crate::oauth::Params, User), Response> {
    let form = page_form(p, chrome, jar, headers, body).map_err(|page| *page)?;
    let user = signed_in(p, page, jar).await?;
    Ok((form, user))
}

pub async fn page_get(
    State(s): State<AppState>,
    page: Page,
    jar: CookieJar,
    Query(done): Query<Done>,
) -> Response {
    let p = &s.provider;
    let user = match signed_in(p, &page, &jar).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let chrome = page.chrome(None);
    let t = chrome.t;
    let notice = match done.done.as_deref() {
        Some("registered") => Some(t.passkeys_registered.clone()),
        Some("renamed") => Some(t.passkeys_renamed.clone()),
        Some("removed") => Some(t.passkeys_removed.clone()),
        _ => None,
    };
    show(p, &chrome, jar, &user, StatusCode::OK, notice, None).await
}

/// The page, with a notice or an error.
async fn show(
    p: &Provider,
    chrome: &Chrome<'_>,
    jar: CookieJar,
    user: &User,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let passkeys = match p.list_passkeys(&user.id).await {
        Ok(list) => list,
        Err(PasskeyError::Disabled) => {
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        }
        Err(e) => return super::pages::error_page(chrome, &e.into()),
    };
    let never = &chrome.t.passkeys_never_used;
    let items = passkeys
        .into_iter()
        .map(|k| PasskeyItem {
            id: k.id,
            name: k.name,
            created: date(k.created_at).unwrap_or_else(|| never.clone()),
            last_used: k
                .last_used_at
                .and_then(date)
                .unwrap_or_else(|| never.clone()),
        })
        .collect();
    let (jar, csrf) = csrf_token(p, jar);
    let view = AccountPasskeysView {
        chrome,
        passkeys: items,
        notice,
        error,
        csrf_token: csrf,
    };
    (jar, render_scripted(chrome, status, &view, None)).into_response()
}

fn date(unix: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .map(|d| d.date().to_string())
}

/// POST /account/passkeys/options: options to create a passkey for the signed-in user.
pub async fn options(
    State(s): State<AppState>,
    page: Page,
    jar: CookieJar,
    headers: HeaderMap,
) -> Response {
    let p = &s.provider;
    if let Some(refused) = options_request_ok(p, &jar, &headers) {
        return refused;
    }
    let user = match signed_in(p, &page, &jar).await {
        Ok(u) => u,
        Err(_) => {
            return ApiError(OAuthError::invalid_request("sign in to add a passkey"))
                .into_response();
        }
    };
    let begun = p.begin_passkey_registration(&user).await;
    options_response(p, jar, begun)
}

/// POST /account/passkeys: the browser's new credential (`credential`) and its `name`.
pub async fn register(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    page: Page,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &s.provider;
    let chrome = page.chrome(None);
    let (form, user) = match posted(p, &page, &chrome, &jar, &headers, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let (jar, ceremony) = take_ceremony_cookie(p, jar);
    let result = p
        .finish_passkey_registration(
            &user,
            ceremony.as_deref(),
            form.get("credential").unwrap_or(""),
            form.get("name").unwrap_or(""),
            ip,
        )
        .await;
    finish(p, &chrome, jar, &user, result.map(|_| "registered")).await
}

/// POST /account/passkeys/{id}/rename
pub async fn rename(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    page: Page,
    jar: CookieJar,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &s.provider;
    let chrome = page.chrome(None);
    let (form, user) = match posted(p, &page, &chrome, &jar, &headers, &body).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let result = p
        .rename_passkey(&user, &id, form.get("name").unwrap_or(""), ip)
        .await;
    finish(p, &chrome, jar, &user, result.map(|_| "renamed")).await
}

/// POST /account/passkeys/{id}/delete
pub async fn delete(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    page: Page,
    jar: CookieJar,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &s.provider;
    let chrome = page.chrome(None);
    let user = match posted(p, &page, &chrome, &jar, &headers, &body).await {
        Ok((_, user)) => user,
        Err(r) => return r,
    };
    let result = p.remove_passkey(&user, &id, ip).await;
    finish(p, &chrome, jar, &user, result.map(|_| "removed")).await
}

/// Back to the list after an action (303, so a reload does not repeat it), or the list
/// with the reason it was refused.
async fn finish(
    p: &Provider,
    chrome: &Chrome<'_>,
    jar: CookieJar,
    user: &User,
    result: Result<&str, PasskeyError>,
) -> Response {
    let t = chrome.t;
    let message = match result {
        Ok(done) => return (jar, redirect(&format!("{PAGE}?done={done}"))).into_response(),
        Err(PasskeyError::Disabled) => {
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        }
        Err(PasskeyError::Internal(e)) => {
            return super::pages::error_page(chrome, &OAuthError::Internal(e));
        }
        Err(PasskeyError::InvalidName) => &t.passkeys_name_invalid,
        Err(PasskeyError::NotFound) => &t.passkeys_not_found,
        Err(PasskeyError::CeremonyNotFound) => &t.passkeys_register_expired,
        Err(PasskeyError::AlreadyRegistered) => &t.passkey_error_exists,
        Err(
            PasskeyError::Malformed
            | PasskeyError::Rejected(_)
            | PasskeyError::UnknownCredential
            | PasskeyError::CounterRegressed
            // Not an account page's error (the second step of a sign-in).
            | PasskeyError::SignInExpired,
        ) => &t.passkeys_register_failed,
    };
    show(
        p,
        chrome,
        jar,
        user,
        StatusCode::BAD_REQUEST,
        None,
        Some(message.clone()),
    )
    .await
}
