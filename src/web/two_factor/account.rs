//! `/account/two-factor`: set up an authenticator (QR code and key, confirmed by a first
//! code), see and renew the recovery codes, remove it (a current code or the password).
//! Behind the account page's session; every form CSRF-protected.
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::views::{AccountTwoFactorView, EnrolView, RecoveryCodesView};
use crate::oauth::Provider;
use crate::oauth::model::User;
use crate::oauth::two_factor::TwoFactorError;
use crate::web::AppState;
use crate::web::account::{AccountForm, signed_in};
use crate::web::pages::{csrf_token, error_page, redirect, render};
use crate::web::ui::{Chrome, Page};

const PAGE: &str = "/account/two-factor";

pub async fn two_factor_get(State(s): State<AppState>, page: Page, jar: CookieJar) -> Response {
    let p = &s.provider;
    let chrome = page.chrome(None);
    let (_, user) = match signed_in(p, &chrome, &jar).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    settings_page(p, &chrome, jar, &user, None).await
}

/// The page for the person's state: the enrolment when there is no authenticator, else
/// the settings.
async fn settings_page(
    p: &Provider,
    chrome: &Chrome<'_>,
    jar: CookieJar,
    user: &User,
    error: Option<&TwoFactorError>,
) -> Response {
    let status = match p.two_factor_status(&user.id).await {
        Ok(s) => s,
        Err(e) => return error_page(chrome, &e),
    };
    let (jar, csrf) = csrf_token(p, jar);
    let wrong = if status.has_authenticator() {
        &chrome.t.account_remove_wrong
    } else {
        &chrome.t.enrol_wrong
    };
    let (code, message, retry_after) = super::refusal(chrome, error, wrong);
    let mut resp = if status.has_authenticator() {
        let view = AccountTwoFactorView {
            chrome,
            recovery_codes_left: status.recovery_codes_left,
            error: message,
            csrf_token: csrf,
        };
        render(chrome, code, &view, None)
    } else {
        let enrolment = match p.begin_authenticator_enrolment(user).await {
            Ok(e) => e,
            Err(e) => return error_page(chrome, &e.into()),
        };
        let view = EnrolView {
            chrome,
            required: false,
            error: message,
            qr_svg: crate::web::qr::svg(&enrolment.otpauth_uri, &chrome.t.enrol_qr_label)
                .unwrap_or_default(),
            secret_text: enrolment.secret.base32_grouped(),
            action: "/account/two-factor/enrol",
            csrf_token: csrf,
            pending: None,
        };
        render(chrome, code, &view, None)
    };
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    (jar, resp).into_response()
}

/// POST /account/two-factor/enrol: the first code confirms the authenticator.
pub async fn enrol_post(State(s): State<AppState>, f: AccountForm) -> Response {
    let p = &s.provider;
    let chrome = f.page.chrome(None);
    match p
        .confirm_authenticator_enrolment(&f.user, f.field("code"), f.ip)
        .await
    {
        Ok(codes) => codes_page(p, &chrome, f.jar, codes),
        Err(TwoFactorError::Internal(e)) => error_page(&chrome, &e),
        Err(e) => settings_page(p, &chrome, f.jar, &f.user, Some(&e)).await,
    }
}

/// POST /account/two-factor/recovery-codes: ten new codes replace the old ones.
pub async fn recovery_codes_post(State(s): State<AppState>, f: AccountForm) -> Response {
    let p = &s.provider;
    let chrome = f.page.chrome(None);
    match p.regenerate_recovery_codes(&f.user, f.ip).await {
        Ok(codes) => codes_page(p, &chrome, f.jar, codes),
        Err(e) => error_page(&chrome, &e.into()),
    }
}

/// POST /account/two-factor/remove: a current code or the password removes the
/// authenticator and its recovery codes.
pub async fn remove_post(State(s): State<AppState>, f: AccountForm) -> Response {
    let p = &s.provider;
    let chrome = f.page.chrome(None);
    match p
        .remove_authenticator(&f.user, f.field("proof"), f.ip)
        .await
    {
        Ok(()) => (f.jar, redirect(PAGE)).into_response(),
        Err(TwoFactorError::Internal(e)) => error_page(&chrome, &e),
        Err(e) => settings_page(p, &chrome, f.jar, &f.user, Some(&e)).await,
    }
}

fn codes_page(p: &Provider, chrome: &Chrome, jar: CookieJar, codes: Vec<String>) -> Response {
    let (jar, csrf) = csrf_token(p, jar);
    let view = RecoveryCodesView {
        chrome,
        codes,
        action: PAGE,
        csrf_token: csrf,
        pending: None,
    };
    (jar, render(chrome, StatusCode::OK, &view, None)).into_response()
}
