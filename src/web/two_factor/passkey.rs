//! A passkey on the second step of signing in: POST /login/second-factor/passkey/options
//! (JSON, called by `static/passkeys.js` with the page's CSRF token and sealed `pending`
//! sign-in) and POST /login/second-factor/passkey (the page's passkey form). The pending
//! sign-in and its binding cookie are checked as for a code.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::sign_in::{binding_cookie_name, posted, result_response};
use crate::oauth::OAuthError;
use crate::web::error::ApiError;
use crate::web::passkeys::{options_request_ok, options_response, take_ceremony_cookie};
use crate::web::ui::Page;
use crate::web::{AppState, ClientAddr};

/// The options request's body.
#[derive(Deserialize)]
struct OptionsBody {
    pending: String,
}

/// POST /login/second-factor/passkey/options: options listing the pending person's
/// passkeys, and the ceremony cookie.
pub async fn options(
    State(s): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &s.provider;
    if let Some(refused) = options_request_ok(p, &jar, &headers) {
        return refused;
    }
    let Ok(body) = serde_json::from_slice::<OptionsBody>(&body) else {
        return ApiError(OAuthError::invalid_request(
            "the body must be JSON with the page's pending sign-in",
        ))
        .into_response();
    };
    let binding = jar
        .get(binding_cookie_name(p))
        .map(|c| c.value().to_owned());
    let begun = p
        .begin_second_factor_passkey(&body.pending, binding.as_deref())
        .await;
    options_response(p, jar, begun)
}

/// POST /login/second-factor/passkey (`csrf_token`, `pending`, `credential`): proved, on
/// as after a right code; refused, the page again saying why; an expired or foreign
/// pending sign-in, the error page.
pub async fn submit(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    page: Page,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &s.provider;
    let form = match posted(p, &page, &jar, &headers, &body) {
        Ok(f) => f,
        Err(resp) => return *resp,
    };
    let (jar, ceremony) = take_ceremony_cookie(p, jar);
    let result = p
        .submit_second_factor_passkey(
            &form.pending,
            form.binding.as_deref(),
            ceremony.as_deref(),
            &form.credential,
            &form.ctx(ip),
        )
        .await;
    result_response(p, &page, jar, result).await
}
