//! The second step of signing in: POST /login/second-factor (a code or a recovery code; a
//! passkey is `passkey.rs`), POST /login/enrol (setting up an authenticator when two factors
//! are required), POST /login/continue (after the new recovery codes). The pending sign-in
//! travels sealed in the form and is bound to the browser by a cookie set with the page.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::views::{EnrolView, RecoveryCodesView, SecondFactorView};
use crate::oauth::Provider;
use crate::oauth::passkeys::PasskeyError;
use crate::oauth::signin::{LoginPrompt, SignInContext, SignInStep};
use crate::oauth::two_factor::TwoFactorError;
use crate::oauth::two_factor::sign_in::{
    PENDING_TTL, SealedPending, SecondFactorPrompt, SecondFactorResult, Stage,
};
use crate::web::authorize::{authorize_error, sign_in_step_response};
use crate::web::pages::{
    csrf_token, form_action_source, page_form, render, render_scripted, short_cookie,
};
use crate::web::ui::{Chrome, Page};
use crate::web::{AppState, ClientAddr};

/// The cookie that ties a pending sign-in to this browser.
pub(super) fn binding_cookie_name(p: &Provider) -> &'static str {
    if p.settings.is_https() {
        "__Host-latchkey_pending"
    } else {
        "latchkey_pending"
    }
}

/// The page of a pending sign-in (code or enrolment), with its binding cookie.
pub(crate) fn prompt_page(
    p: &Provider,
    page: &Page,
    jar: CookieJar,
    prompt: SecondFactorPrompt,
    error: Option<&TwoFactorError>,
) -> Response {
    let chrome = page.chrome(prompt.prompt.ui_locales.as_deref());
    let wrong = if prompt.stage == Stage::Enrol {
        &chrome.t.enrol_wrong
    } else {
        &chrome.t.second_factor_wrong
    };
    let refusal = super::refusal(&chrome, error, wrong);
    show_prompt(p, &chrome, jar, prompt, refusal)
}

/// A passkey refused on the second-step page: the page again (400) saying why.
fn passkey_refused_page(
    p: &Provider,
    page: &Page,
    jar: CookieJar,
    prompt: SecondFactorPrompt,
    error: &PasskeyError,
) -> Response {
    let chrome = page.chrome(prompt.prompt.ui_locales.as_deref());
    let message = match error {
        PasskeyError::CeremonyNotFound => &chrome.t.passkey_sign_in_expired,
        _ => &chrome.t.second_factor_passkey_failed,
    };
    let refusal = (StatusCode::BAD_REQUEST, Some(message.clone()), None);
    show_prompt(p, &chrome, jar, prompt, refusal)
}

/// The page of `prompt` with its binding cookie, and the status, message and
/// `Retry-After` of a refusal (`super::refusal`).
fn show_prompt(
    p: &Provider,
    chrome: &Chrome,
    jar: CookieJar,
    prompt: SecondFactorPrompt,
    (status, message, retry_after): (StatusCode, Option<String>, Option<u64>),
) -> Response {
    let jar = jar.add(short_cookie(
        p,
        binding_cookie_name(p),
        prompt.sealed.browser_cookie.clone(),
        PENDING_TTL,
    ));
    let (jar, csrf) = csrf_token(p, jar);
    // Browsers apply `form-action` to the redirect that follows the form: the client's.
    let action = form_action_source(&prompt.prompt.destination);
    let mut resp = match (&prompt.stage, &prompt.enrolment) {
        (Stage::Enrol, Some(enrolment)) => {
            let view = EnrolView {
                chrome,
                required: true,
                error: message,
                qr_svg: crate::web::qr::svg(&enrolment.otpauth_uri, &chrome.t.enrol_qr_label)
                    .unwrap_or_default(),
                secret_text: enrolment.secret.base32_grouped(),
                action: "/login/enrol",
                csrf_token: csrf,
                pending: Some(prompt.sealed.sealed),
            };
            render(chrome, status, &view, Some(&action))
        }
        _ => {
            let view = SecondFactorView {
                chrome,
                client_name: prompt.prompt.client_name.clone(),
                error: message,
                csrf_token: csrf,
                pending: prompt.sealed.sealed,
                code: prompt.offer.code,
                passkey: prompt.offer.passkey,
            };
            // The passkey button is driven by static/passkeys.js.
            if view.passkey {
                render_scripted(chrome, status, &view, Some(&action))
            } else {
                render(chrome, status, &view, Some(&action))
            }
        }
    };
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    (jar, resp).into_response()
}

/// The form fields and context every POST here shares.
pub(super) struct Posted {
    pub pending: String,
    pub code: String,
    /// A passkey's answer (`credential.toJSON()`), on the passkey form.
    pub credential: String,
    pub binding: Option<String>,
    old_session: Option<String>,
    user_agent: Option<String>,
}

pub(super) fn posted(
    p: &Provider,
    page: &Page,
    jar: &CookieJar,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Posted, Box<Response>> {
    let form = page_form(p, &page.chrome(None), jar, headers, body)?;
    Ok(Posted {
        pending: form.get("pending").unwrap_or("").to_owned(),
        code: form.get("code").unwrap_or("").chars().take(64).collect(),
        credential: form.get("credential").unwrap_or("").to_owned(),
        binding: jar
            .get(binding_cookie_name(p))
            .map(|c| c.value().to_owned()),
        old_session: jar
            .get(crate::web::pages::session_cookie_name(p))
            .map(|c| c.value().to_owned()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    })
}

impl Posted {
    pub fn ctx(&self, ip: Option<std::net::IpAddr>) -> SignInContext<'_> {
        SignInContext {
            source_ip: ip,
            user_agent: self.user_agent.as_deref(),
            old_session_cookie: self.old_session.as_deref(),
        }
    }
}

/// POST /login/second-factor.
pub async fn code_post(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    page: Page,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    submit(&s, ip, &page, jar, &headers, &body, Stage::Code).await
}

/// POST /login/enrol.
pub async fn enrol_post(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    page: Page,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    submit(&s, ip, &page, jar, &headers, &body, Stage::Enrol).await
}

/// A code posted at `stage`: the code page's, or the first code of an enrolment.
async fn submit(
    s: &AppState,
    ip: Option<std::net::IpAddr>,
    page: &Page,
    jar: CookieJar,
    headers: &HeaderMap,
    body: &[u8],
    stage: Stage,
) -> Response {
    let p = &s.provider;
    let form = match posted(p, page, &jar, headers, body) {
        Ok(f) => f,
        Err(resp) => return *resp,
    };
    let (pending, binding, ctx) = (&form.pending, form.binding.as_deref(), form.ctx(ip));
    let result = if stage == Stage::Enrol {
        p.submit_sign_in_enrolment(pending, binding, &form.code, &ctx)
            .await
    } else {
        p.submit_second_factor(pending, binding, &form.code, &ctx)
            .await
    };
    result_response(p, page, jar, result).await
}

/// POST /login/continue.
pub async fn continue_post(
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
    match p
        .continue_proven_sign_in(&form.pending, form.binding.as_deref(), &form.ctx(ip))
        .await
    {
        Ok((signed_in, ticket)) => {
            let jar = jar.remove(binding_cookie_name(p));
            sign_in_step_response(p, &page, jar, SignInStep::Done(signed_in), ticket).await
        }
        Err(e) => authorize_error(&page.chrome(None), e),
    }
}

pub(super) async fn result_response(
    p: &Provider,
    page: &Page,
    jar: CookieJar,
    result: Result<SecondFactorResult, crate::oauth::authorize::AuthorizeError>,
) -> Response {
    match result {
        Ok(SecondFactorResult::Retry { prompt, error }) => {
            prompt_page(p, page, jar, *prompt, Some(&error))
        }
        Ok(SecondFactorResult::PasskeyRefused { prompt, error }) => {
            passkey_refused_page(p, page, jar, *prompt, &error)
        }
        Ok(SecondFactorResult::Enrolled {
            codes,
            proven,
            prompt,
        }) => recovery_codes_page(p, page, jar, codes, proven, &prompt),
        Ok(SecondFactorResult::Done(signed_in, ticket)) => {
            let jar = jar.remove(binding_cookie_name(p));
            sign_in_step_response(p, page, jar, SignInStep::Done(*signed_in), ticket).await
        }
        Err(e) => authorize_error(&page.chrome(None), e),
    }
}

fn recovery_codes_page(
    p: &Provider,
    page: &Page,
    jar: CookieJar,
    codes: Vec<String>,
    proven: SealedPending,
    prompt: &LoginPrompt,
) -> Response {
    let chrome = page.chrome(prompt.ui_locales.as_deref());
    let jar = jar.add(short_cookie(
        p,
        binding_cookie_name(p),
        proven.browser_cookie,
        PENDING_TTL,
    ));
    let (jar, csrf) = csrf_token(p, jar);
    let view = RecoveryCodesView {
        chrome: &chrome,
        codes,
        action: "/login/continue",
        csrf_token: csrf,
        pending: Some(proven.sealed),
    };
    let action = form_action_source(&prompt.destination);
    (jar, render(&chrome, StatusCode::OK, &view, Some(&action))).into_response()
}
