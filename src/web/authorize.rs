//! GET/POST /authorize, POST /login, POST /consent: extract, call the protocol, map the
//! next step to a page or a redirect.
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::extract::{MAX_BODY, is_form};
use super::pages::{
    csrf_token, error_page, form_action_source, page_form, redirect, render, session_cookie,
    session_cookie_name,
};
use super::views::{ConsentView, LoginView, ScopeItem, describe_scope};
use super::{AppState, ClientAddr};
use crate::oauth::authorize::{AuthorizationRequest, AuthorizeError, AuthorizeStep};
use crate::oauth::interaction::{LoginRejection, LoginResult};
use crate::oauth::{OAuthError, Provider};

pub async fn authorize_get(
    State(s): State<AppState>,
    jar: CookieJar,
    RawQuery(q): RawQuery,
) -> Response {
    authorize(&s, jar, q.unwrap_or_default()).await
}

pub async fn authorize_post(
    State(s): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_form(&headers) {
        return error_page(&OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    match String::from_utf8(body.to_vec()) {
        Ok(raw) if raw.len() <= MAX_BODY => authorize(&s, jar, raw).await,
        _ => error_page(&OAuthError::invalid_request(
            "the request body is not valid",
        )),
    }
}

async fn authorize(s: &AppState, jar: CookieJar, raw: String) -> Response {
    let p = &s.provider;
    let session = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    match p.authorize(&raw, session.as_deref()).await {
        Ok((step, ticket)) => step_response(p, jar, step, ticket),
        Err(e) => authorize_error(e),
    }
}

pub async fn login_post(
    State(s): State<AppState>,
    ClientAddr(source_ip): ClientAddr,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &s.provider;
    let form = match page_form(p, &jar, &headers, &body) {
        Ok(f) => f,
        Err(page) => return *page,
    };
    let ticket = form.get("req").unwrap_or("").to_owned();
    let old = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    let result = p
        .login(
            &ticket,
            form.get("username").unwrap_or(""),
            form.get("password").unwrap_or(""),
            old.as_deref(),
            source_ip,
        )
        .await;
    match result {
        Ok(LoginResult::Rejected {
            request: req,
            reason,
        }) => {
            let (status, message, retry_after) = login_refusal(reason);
            let username = form
                .get("username")
                .unwrap_or("")
                .chars()
                .take(64)
                .collect();
            let mut resp = login_page(p, jar, &req, ticket, Some(message), username);
            *resp.status_mut() = status;
            if let Some(secs) = retry_after {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            resp
        }
        Ok(LoginResult::SignedIn {
            session_cookie: value,
            step,
        }) => {
            let jar = jar.add(session_cookie(p, value));
            step_response(p, jar, step, ticket)
        }
        Err(e) => authorize_error(e),
    }
}

pub async fn consent_post(
    State(s): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = &s.provider;
    let form = match page_form(p, &jar, &headers, &body) {
        Ok(f) => f,
        Err(page) => return *page,
    };
    let allow = match form.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return error_page(&OAuthError::invalid_request("choose Allow or Deny")),
    };
    let ticket = form.get("req").unwrap_or("").to_owned();
    let session = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    match p.consent(&ticket, session.as_deref(), allow).await {
        Ok(step) => step_response(p, jar, step, ticket),
        Err(e) => authorize_error(e),
    }
}

/// Status, message and `Retry-After` of a refused sign-in. Throttled and locked attempts get
/// 429 whether or not the username exists, so neither reveals which names do.
fn login_refusal(reason: LoginRejection) -> (StatusCode, String, Option<u64>) {
    match reason {
        LoginRejection::WrongCredentials => (
            StatusCode::OK,
            "Incorrect username or password.".to_owned(),
            None,
        ),
        LoginRejection::Throttled { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed sign-in attempts. Wait {} and try again.",
                human_duration(retry_after)
            ),
            Some(retry_after),
        ),
        LoginRejection::Locked { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed sign-in attempts: signing in to this account from your network is locked for {}. Even the right password is refused until then.",
                human_duration(retry_after)
            ),
            Some(retry_after),
        ),
    }
}

fn human_duration(secs: u64) -> String {
    match secs {
        0..=1 => "1 second".to_owned(),
        2..=90 => format!("{secs} seconds"),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

fn step_response(p: &Provider, jar: CookieJar, step: AuthorizeStep, ticket: String) -> Response {
    match step {
        AuthorizeStep::Redirect(url) => (jar, redirect(&url)).into_response(),
        AuthorizeStep::Login(req) => {
            let username = req.login_hint.clone().unwrap_or_default();
            login_page(p, jar, &req, ticket, None, username)
        }
        AuthorizeStep::Consent {
            request,
            user,
            to_approve,
            previously_approved,
        } => {
            let (jar, csrf) = csrf_token(p, jar);
            let view = ConsentView {
                client_name: request.client_name().to_owned(),
                user_display: user.name.clone().unwrap_or_else(|| user.username.clone()),
                scopes: ordered(&to_approve)
                    .into_iter()
                    .map(|s| ScopeItem {
                        name: s.as_str().to_owned(),
                        description: describe_scope(s.as_str()),
                    })
                    .collect(),
                new_scopes_only: previously_approved,
                csrf_token: csrf,
                req: ticket,
            };
            let action = form_action_source(request.redirect_uri.as_str());
            (jar, render(StatusCode::OK, &view, Some(&action))).into_response()
        }
    }
}

fn login_page(
    p: &Provider,
    jar: CookieJar,
    req: &AuthorizationRequest,
    ticket: String,
    error: Option<String>,
    username: String,
) -> Response {
    let (jar, csrf) = csrf_token(p, jar);
    let view = LoginView {
        client_name: Some(req.client_name().to_owned()),
        error,
        csrf_token: csrf,
        req: ticket,
        username,
    };
    let action = form_action_source(req.redirect_uri.as_str());
    (jar, render(StatusCode::OK, &view, Some(&action))).into_response()
}

/// Standard scopes first, in the order people read them; the rest alphabetically.
fn ordered(scope: &crate::domain::Scope) -> Vec<&crate::domain::ScopeToken> {
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

fn authorize_error(e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Page(e) => error_page(&e),
        AuthorizeError::Redirect(url) => redirect(&url),
    }
}

/// GET /login or /consent: a bookmark or a reload after the form was sent. There is no
/// request to continue, so say how to start again rather than answer 405.
pub async fn form_page_get() -> Response {
    error_page(&OAuthError::invalid_request(
        "this page is part of signing in to an application; go back to the application and start again",
    ))
}
