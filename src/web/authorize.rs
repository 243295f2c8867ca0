//! GET/POST /authorize, POST /login (either kind of login ticket), POST /consent: extract,
//! call the protocol, map the next step to a page or a redirect.
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::extract::{MAX_BODY, is_form};
use super::pages::{
    csrf_token, error_page, form_action_source, message_page, page_form, redirect, render,
    session_cookie, session_cookie_name,
};
use super::signin::login_page;
use super::ui::{Chrome, Page};
use super::views::{ConsentView, ScopeItem};
use super::{AppState, ClientAddr};
use crate::oauth::authorize::{AuthorizeError, AuthorizeStep};
use crate::oauth::interaction::{LoginRejection, LoginResult};
use crate::oauth::signin::{AfterSignIn, LoginPrompt, SignInContext, SignInStep};
use crate::oauth::{OAuthError, Params, Provider};

pub async fn authorize_get(
    State(s): State<AppState>,
    page: Page,
    jar: CookieJar,
    RawQuery(q): RawQuery,
) -> Response {
    authorize(&s, &page, jar, q.unwrap_or_default()).await
}

pub async fn authorize_post(
    State(s): State<AppState>,
    page: Page,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let chrome = page.chrome(None);
    if !is_form(&headers) {
        return error_page(
            &chrome,
            &OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"),
        );
    }
    match String::from_utf8(body.to_vec()) {
        Ok(raw) if raw.len() <= MAX_BODY => authorize(&s, &page, jar, raw).await,
        _ => error_page(
            &chrome,
            &OAuthError::invalid_request("the request body is not valid"),
        ),
    }
}

async fn authorize(s: &AppState, page: &Page, jar: CookieJar, raw: String) -> Response {
    let p = &s.provider;
    let session = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    match p.authorize(&raw, session.as_deref()).await {
        Ok((step, ticket)) => step_response(p, page, jar, step, ticket),
        Err(e) => {
            // An error page for a request that failed validation still speaks the language
            // the request asked for, when its parameters can be read at all.
            let params = Params::parse(raw.as_bytes()).ok();
            let ui_locales = params.as_ref().and_then(|q| q.get("ui_locales"));
            authorize_error(&page.chrome(ui_locales), e)
        }
    }
}

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
    let old = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let ctx = SignInContext {
        source_ip: ip,
        user_agent,
        old_session_cookie: old.as_deref(),
    };
    let result = p
        .login(
            &ticket,
            form.get("username").unwrap_or(""),
            form.get("password").unwrap_or(""),
            &ctx,
        )
        .await;
    match result {
        Ok(LoginResult::Rejected { prompt, reason }) => {
            let chrome = page.chrome(prompt.ui_locales.as_deref());
            let (status, message, retry_after) = login_refusal(&chrome, reason);
            let username = form
                .get("username")
                .unwrap_or("")
                .chars()
                .take(64)
                .collect();
            let mut resp = login_page(p, &chrome, jar, &prompt, ticket, Some(message), username);
            *resp.status_mut() = status;
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
        Ok(LoginResult::Proved(step)) => sign_in_step_response(p, &page, jar, step, ticket),
        Err(e) => authorize_error(&page.chrome(None), e),
    }
}

/// Where a finished sign-in goes: the session cookie, then the authorization request or the
/// return address.
pub(super) fn sign_in_step_response(
    p: &Provider,
    page: &Page,
    jar: CookieJar,
    step: SignInStep,
    ticket: String,
) -> Response {
    match step {
        SignInStep::Done(signed_in) => {
            let jar = jar.add(session_cookie(p, signed_in.session_cookie));
            match signed_in.next {
                AfterSignIn::Authorize(step) => step_response(p, page, jar, step, ticket),
                AfterSignIn::Return(url) => (jar, redirect(&url)).into_response(),
            }
        }
        SignInStep::FurtherFactor { needed, .. } => match needed {},
    }
}

pub async fn consent_post(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    page: Page,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &s.provider;
    let chrome = page.chrome(None);
    let form = match page_form(p, &chrome, &jar, &headers, &body) {
        Ok(f) => f,
        Err(page) => return *page,
    };
    let allow = match form.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => {
            return error_page(
                &chrome,
                &OAuthError::invalid_request("choose Allow or Deny"),
            );
        }
    };
    let ticket = form.get("req").unwrap_or("").to_owned();
    let session = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    match p.consent(&ticket, session.as_deref(), allow, ip).await {
        Ok(step) => step_response(p, &page, jar, step, ticket),
        Err(e) => authorize_error(&chrome, e),
    }
}

/// Status, message and `Retry-After` of a refused sign-in. Throttled and locked attempts get
/// 429 whether or not the username exists, so neither reveals which names do.
fn login_refusal(chrome: &Chrome, reason: LoginRejection) -> (StatusCode, String, Option<u64>) {
    let t = chrome.t;
    match reason {
        LoginRejection::WrongCredentials => (StatusCode::OK, t.wrong_credentials.clone(), None),
        LoginRejection::Throttled { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            t.throttled
                .replace("{seconds}", &retry_after.max(1).to_string()),
            Some(retry_after),
        ),
        LoginRejection::Locked { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            t.locked
                .replace("{minutes}", &retry_after.div_ceil(60).max(1).to_string()),
            Some(retry_after),
        ),
    }
}

fn step_response(
    p: &Provider,
    page: &Page,
    jar: CookieJar,
    step: AuthorizeStep,
    ticket: String,
) -> Response {
    match step {
        AuthorizeStep::Redirect(url) => (jar, redirect(&url)).into_response(),
        AuthorizeStep::Login(req) => {
            let prompt = LoginPrompt::for_request(&req);
            let username = prompt.login_hint.clone().unwrap_or_default();
            let chrome = page.chrome(prompt.ui_locales.as_deref());
            login_page(p, &chrome, jar, &prompt, ticket, None, username)
        }
        AuthorizeStep::Consent {
            request,
            user,
            to_approve,
            previously_approved,
        } => {
            let (jar, csrf) = csrf_token(p, jar);
            let chrome = page.chrome(request.ui_locales.as_deref());
            let view = ConsentView {
                chrome: &chrome,
                client_name: request.client_name().to_owned(),
                user_display: user.name.clone().unwrap_or_else(|| user.username.clone()),
                scopes: ordered(&to_approve)
                    .into_iter()
                    .map(|s| ScopeItem {
                        name: s.as_str().to_owned(),
                        description: chrome.t.describe_scope(s.as_str()),
                    })
                    .collect(),
                new_scopes_only: previously_approved,
                csrf_token: csrf,
                req: ticket,
            };
            let action = form_action_source(request.redirect_uri.as_str());
            (jar, render(&chrome, StatusCode::OK, &view, Some(&action))).into_response()
        }
    }
}

/// Standard scopes first, in the order people read them; the rest alphabetically.
pub(super) fn ordered(scope: &crate::domain::Scope) -> Vec<&crate::domain::ScopeToken> {
    const FIRST: [&str; 4] = ["openid", "profile", "email", "offline_access"];
    let mut v: Vec<_> = scope.iter().collect();
    v.sort_by_key(|t| {
        let rank = FIRST
            .iter()
            .position(|f| *f == t.as_str())
            .unwrap_or(FIRST.len());
        (rank, t.as_str().to_owned())
    });
    v
}

pub(super) fn authorize_error(chrome: &Chrome, e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Page(e) => error_page(chrome, &e),
        AuthorizeError::Redirect(url) => redirect(&url),
    }
}

/// GET /login or /consent: a bookmark or a reload after the form was sent. There is no
/// request to continue, so say how to start again rather than answer 405.
pub async fn form_page_get(page: Page) -> Response {
    let chrome = page.chrome(None);
    message_page(
        &chrome,
        StatusCode::BAD_REQUEST,
        &chrome.t.error_invalid_title,
        &chrome.t.error_start_again,
        None,
    )
}
