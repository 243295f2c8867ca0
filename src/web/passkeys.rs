//! Passkey endpoints called by `static/passkeys.js`: the WebAuthn options for a sign-in
//! (`POST /login/passkey/options`), and the ceremony cookie. The browser's answer comes back
//! in an ordinary page form (`/login/passkey`, `/account/passkeys`), CSRF-protected like the
//! others.
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use super::authorize::{authorize_error, sign_in_step_response};
use super::error::ApiError;
use super::extract::no_store;
use super::pages::{csrf_ok, page_form, session_cookie_name};
use super::signin::login_page;
use super::ui::Page;
use super::{AppState, ClientAddr};
use crate::oauth::passkeys::{Begun, PasskeyError, PasskeyLogin};
use crate::oauth::signin::SignInContext;
use crate::oauth::{OAuthError, Provider};

const CEREMONY_COOKIE: &str = "latchkey_passkey";

/// The cookie naming this browser's passkey ceremony; with https the `__Host-` prefix pins
/// it to this origin.
fn ceremony_cookie_name(p: &Provider) -> &'static str {
    if p.settings.is_https() {
        "__Host-latchkey_passkey"
    } else {
        CEREMONY_COOKIE
    }
}

fn ceremony_cookie(p: &Provider, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build((ceremony_cookie_name(p), value))
        .http_only(true)
        .secure(p.settings.is_https())
        // Only this site's own pages post the answer back.
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(time::Duration::seconds(max_age))
        .build()
}

/// The ceremony id this browser holds, and a jar that drops it (a ceremony is used once,
/// whatever the outcome).
pub fn take_ceremony_cookie(p: &Provider, jar: CookieJar) -> (CookieJar, Option<String>) {
    let value = jar
        .get(ceremony_cookie_name(p))
        .map(|c| c.value().to_owned());
    let jar = if value.is_some() {
        jar.add(ceremony_cookie(p, String::new(), 0))
    } else {
        jar
    };
    (jar, value)
}

/// The JSON answer to an options request: the options, and the cookie naming the ceremony.
pub fn options_response(
    p: &Provider,
    jar: CookieJar,
    begun: Result<Begun, PasskeyError>,
) -> Response {
    match begun {
        Ok(Begun { options, ceremony }) => {
            let ttl = i64::try_from(p.settings.passkeys.ceremony_ttl).unwrap_or(300);
            let jar = jar.add(ceremony_cookie(p, ceremony, ttl));
            no_store((jar, Json(options)).into_response())
        }
        Err(PasskeyError::Disabled) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
        Err(e) => ApiError(OAuthError::from(e)).into_response(),
    }
}

/// Options requests come from this site's own pages: the page's CSRF token in
/// `X-CSRF-Token`, and JSON. A refusal is `invalid_request` JSON.
pub fn options_request_ok(p: &Provider, jar: &CookieJar, headers: &HeaderMap) -> Option<Response> {
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    if json && csrf_ok(p, jar, token) {
        None
    } else {
        Some(
            ApiError(OAuthError::invalid_request(
                "a passkey request must be JSON from this site's own page (X-CSRF-Token)",
            ))
            .into_response(),
        )
    }
}

/// POST /login/passkey/options: options for signing in with a discoverable passkey.
pub async fn sign_in_options(
    State(s): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
) -> Response {
    let p = &s.provider;
    if let Some(refused) = options_request_ok(p, &jar, &headers) {
        return refused;
    }
    let begun = p.begin_passkey_sign_in().await;
    options_response(p, jar, begun)
}

/// POST /login/passkey: the login page's passkey form (`csrf_token`, `req`, `credential`).
/// Proved: on as after a password (consent, the client, or the return address). Refused:
/// the login page again (400) with the reason in the person's words.
pub async fn login_post(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    page: Page,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &s.provider;
    let form = match page_form(p, &page.chrome(None), &jar, &headers, &body) {
        Ok(f) => f,
        Err(page) => return *page,
    };
    let ticket = form.get("req").unwrap_or("").to_owned();
    let (jar, ceremony) = take_ceremony_cookie(p, jar);
    let old = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    let ctx = SignInContext {
        source_ip: ip,
        user_agent: headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        old_session_cookie: old.as_deref(),
    };
    let result = p
        .login_with_passkey(
            &ticket,
            ceremony.as_deref(),
            form.get("credential").unwrap_or(""),
            &ctx,
        )
        .await;
    match result {
        Ok(PasskeyLogin::Refused { prompt, error }) => {
            let chrome = page.chrome(prompt.ui_locales.as_deref());
            let message = match error {
                PasskeyError::CeremonyNotFound => chrome.t.passkey_sign_in_expired.clone(),
                _ => chrome.t.passkey_sign_in_failed.clone(),
            };
            let mut resp = login_page(
                p,
                &chrome,
                jar,
                &prompt,
                ticket,
                Some(message),
                String::new(),
            );
            *resp.status_mut() = StatusCode::BAD_REQUEST;
            resp
        }
        Ok(PasskeyLogin::Proved(step)) => sign_in_step_response(p, &page, jar, step, ticket).await,
        Err(e) => authorize_error(&page.chrome(None), e),
    }
}
