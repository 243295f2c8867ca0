//! `/account`: the signed-in person's own page (profile, password, sign-in methods,
//! connected apps, sessions) and its forms. Without a session it sends the browser to
//! `/signin?return_to=/account`. Every form is CSRF-protected (`page_form`) and acts on the
//! session's own user only; the protocol decides, these handlers map.
mod view;

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::pages::{
    csrf_token, error_page, expired_session_cookie, page_form, redirect, render,
    session_cookie_name,
};
use super::ui::{Chrome, Page};
use super::views::LoggedOutView;
use super::{AppState, ClientAddr};
use crate::oauth::account::{AccountError, PasswordChange};
use crate::oauth::interaction::LoginRejection;
use crate::oauth::model::{Session, User};
use crate::oauth::{Params, Provider};
use view::{AccountView, FormErrors};

/// What `?done=` on the account page confirms.
const DONE_PROFILE: &str = "profile";
const DONE_PASSWORD: &str = "password";
const DONE_REVOKED: &str = "revoked";
const DONE_SESSION: &str = "session";

/// The session of this browser and its user, or the response that sends it to sign in.
pub(in crate::web) async fn signed_in(
    p: &Provider,
    chrome: &Chrome<'_>,
    jar: &CookieJar,
) -> Result<(Session, User), Response> {
    let cookie = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    match p.current_session(cookie.as_deref()).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => {
            let back = p.account_path();
            Err(redirect(&format!(
                "/signin?return_to={}",
                percent_encoding::utf8_percent_encode(&back, percent_encoding::NON_ALPHANUMERIC)
            )))
        }
        Err(e) => Err(error_page(chrome, &e)),
    }
}

pub async fn account_get(
    State(s): State<AppState>,
    page: Page,
    jar: CookieJar,
    RawQuery(q): RawQuery,
) -> Response {
    let p = &s.provider;
    let chrome = page.chrome(None);
    let (session, user) = match signed_in(p, &chrome, &jar).await {
        Ok(found) => found,
        Err(resp) => return resp,
    };
    let done = Params::parse(q.unwrap_or_default().as_bytes())
        .ok()
        .and_then(|q| q.get("done").map(str::to_owned));
    let t = chrome.t;
    let notice = match done.as_deref() {
        Some(DONE_PROFILE) => Some(t.notice_profile_saved.clone()),
        Some(DONE_PASSWORD) => Some(t.notice_password_changed.clone()),
        Some(DONE_REVOKED) => Some(t.notice_app_revoked.clone()),
        Some(DONE_SESSION) => Some(t.notice_session_ended.clone()),
        _ => None,
    };
    account_page(
        p,
        &chrome,
        jar,
        &session,
        user,
        StatusCode::OK,
        notice,
        FormErrors::default(),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn account_page(
    p: &Provider,
    chrome: &Chrome<'_>,
    jar: CookieJar,
    session: &Session,
    user: User,
    status: StatusCode,
    notice: Option<String>,
    errors: FormErrors,
) -> Response {
    let overview = match p.account_overview(session, user).await {
        Ok(o) => o,
        Err(e) => return error_page(chrome, &e),
    };
    let (jar, csrf) = csrf_token(p, jar);
    let view = AccountView::new(chrome, &overview, csrf, notice, errors);
    (jar, render(chrome, status, &view, None)).into_response()
}

/// A posted account form: a form body carrying this browser's CSRF token (`page_form`),
/// from a signed-in browser. Anything else is answered before the handler runs: 403 for a
/// bad token, the sign-in redirect without a session.
pub struct AccountForm {
    pub(in crate::web) page: Page,
    pub(in crate::web) jar: CookieJar,
    pub(in crate::web) ip: Option<IpAddr>,
    form: Params,
    session: Session,
    pub(in crate::web) user: User,
}

impl FromRequest<AppState> for AccountForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Ok(page) = Page::from_request_parts(&mut parts, state).await;
        let Ok(ClientAddr(ip)) = ClientAddr::from_request_parts(&mut parts, state).await;
        let jar = CookieJar::from_headers(&parts.headers);
        let headers = parts.headers.clone();
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let p = &state.provider;
        let (form, session, user) = {
            let chrome = page.chrome(None);
            let form = page_form(p, &chrome, &jar, &headers, &body).map_err(|r| *r)?;
            let (session, user) = signed_in(p, &chrome, &jar).await?;
            (form, session, user)
        };
        Ok(Self {
            page,
            jar,
            ip,
            form,
            session,
            user,
        })
    }
}

impl AccountForm {
    pub(in crate::web) fn field(&self, name: &str) -> &str {
        self.form.get(name).unwrap_or("")
    }
}

fn done(p: &Provider, what: &str) -> Response {
    redirect(&format!("{}?done={what}", p.account_path()))
}

pub async fn profile_post(State(s): State<AppState>, f: AccountForm) -> Response {
    let p = &s.provider;
    let result = p
        .update_profile(&f.user, f.field("name"), f.field("email"), f.ip)
        .await;
    match result {
        Ok(()) => done(p, DONE_PROFILE),
        Err(e) => refused(p, f, e).await,
    }
}

pub async fn password_post(State(s): State<AppState>, f: AccountForm) -> Response {
    let p = &s.provider;
    let change = PasswordChange {
        current: f.field("current_password"),
        new: f.field("new_password"),
        repeat: f.field("repeat_password"),
    };
    let result = p.change_password(&f.session, &f.user, &change, f.ip).await;
    match result {
        Ok(()) => done(p, DONE_PASSWORD),
        Err(e) => refused(p, f, e).await,
    }
}

/// The account page again, with the reason next to the form that was refused.
async fn refused(p: &Provider, f: AccountForm, e: AccountError) -> Response {
    let chrome = &f.page.chrome(None);
    let t = chrome.t;
    let mut errors = FormErrors::default();
    let mut retry_after = None;
    let status = match e {
        AccountError::InvalidName => {
            errors.profile = Some(t.profile_invalid_name.clone());
            StatusCode::BAD_REQUEST
        }
        AccountError::InvalidEmail => {
            errors.profile = Some(t.profile_invalid_email.clone());
            StatusCode::BAD_REQUEST
        }
        AccountError::PasswordLength => {
            errors.password = Some(t.password_length.clone());
            StatusCode::BAD_REQUEST
        }
        AccountError::PasswordMismatch => {
            errors.password = Some(t.password_mismatch.clone());
            StatusCode::BAD_REQUEST
        }
        AccountError::CurrentPassword(LoginRejection::WrongCredentials) => {
            errors.password = Some(t.password_wrong.clone());
            StatusCode::FORBIDDEN
        }
        AccountError::CurrentPassword(LoginRejection::Throttled { retry_after: secs }) => {
            errors.password = Some(t.throttled.replace("{seconds}", &secs.max(1).to_string()));
            retry_after = Some(secs);
            StatusCode::TOO_MANY_REQUESTS
        }
        AccountError::CurrentPassword(LoginRejection::Locked { retry_after: secs }) => {
            errors.password = Some(
                t.locked
                    .replace("{minutes}", &secs.div_ceil(60).max(1).to_string()),
            );
            retry_after = Some(secs);
            StatusCode::TOO_MANY_REQUESTS
        }
        AccountError::Failed(e) => return error_page(chrome, &e),
    };
    let mut resp = account_page(p, chrome, f.jar, &f.session, f.user, status, None, errors).await;
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

pub async fn revoke_post(State(s): State<AppState>, f: AccountForm) -> Response {
    let p = &s.provider;
    match p
        .revoke_connected_app(&f.user, f.field("client_id"), f.ip)
        .await
    {
        Ok(_) => done(p, DONE_REVOKED),
        Err(e) => error_page(&f.page.chrome(None), &e),
    }
}

pub async fn end_session_post(State(s): State<AppState>, f: AccountForm) -> Response {
    let p = &s.provider;
    let sid = f.field("sid");
    let own = sid == p.session_sid(&f.session);
    let chrome = f.page.chrome(None);
    match p.sign_out_session(&f.user, sid, f.ip).await {
        Ok(_) if own => signed_out(p, &chrome, f.jar),
        Ok(_) => done(p, DONE_SESSION),
        Err(e) => error_page(&chrome, &e),
    }
}

pub async fn end_all_post(State(s): State<AppState>, f: AccountForm) -> Response {
    let p = &s.provider;
    let chrome = f.page.chrome(None);
    match p.sign_out_everywhere(&f.user, f.ip).await {
        Ok(_) => signed_out(p, &chrome, f.jar),
        Err(e) => error_page(&chrome, &e),
    }
}

/// This browser's session ended: drop the cookie and say so.
fn signed_out(p: &Provider, chrome: &Chrome<'_>, jar: CookieJar) -> Response {
    let jar = jar.add(expired_session_cookie(p));
    (
        jar,
        render(chrome, StatusCode::OK, &LoggedOutView { chrome }, None),
    )
        .into_response()
}
