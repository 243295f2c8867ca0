//! The demo app's pages: a start page with the "Sign in with Latchkey" button, the callback,
//! the signed-in page (ID token claims, userinfo, refresh and sign-out buttons) and errors.
//! Every page carries the demo banner.
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use super::{DemoSession, DemoState, Metadata, setup};
use crate::crypto::{ct_eq, random_token};

/// Not the server's cookie names: browsers share cookies between ports of one host.
const FLOW_COOKIE: &str = "latchkey_demo_flow";
const SESSION_COOKIE: &str = "latchkey_demo_session";

#[derive(Template)]
#[template(path = "demo/home.html")]
struct HomeView {
    username: &'static str,
    password: &'static str,
    client_id: String,
}

#[derive(Template)]
#[template(path = "demo/signed_in.html")]
struct SignedInView {
    name: String,
    id_token_claims: String,
    userinfo: String,
    scope: String,
    expires_in: String,
    has_refresh_token: bool,
    refreshed: u32,
    csrf: String,
}

#[derive(Template)]
#[template(path = "demo/error.html")]
struct ErrorView {
    message: String,
}

pub async fn home(State(s): State<Arc<DemoState>>, jar: CookieJar) -> Response {
    match session(&s, &jar) {
        Some((_, session)) => signed_in_page(&s, &session),
        None => page(
            &s,
            StatusCode::OK,
            &HomeView {
                username: setup::DEMO_USERNAME,
                password: setup::DEMO_PASSWORD,
                client_id: s.rp.client_id().to_owned(),
            },
        ),
    }
}

/// Starts the authorization code flow with PKCE: a fresh state, nonce and verifier, kept
/// here under a cookie of this browser.
pub async fn sign_in(State(s): State<Arc<DemoState>>, jar: CookieJar) -> Response {
    let meta = match s.rp.discover().await {
        Ok(m) => m,
        Err(e) => return error(&s, StatusCode::BAD_GATEWAY, &e),
    };
    let (url, pending) = s.rp.authorization_url(&meta);
    let key = random_token();
    if !lock(&s.pending).insert(key.clone(), pending) {
        return error_text(
            &s,
            StatusCode::SERVICE_UNAVAILABLE,
            "too many sign-ins in progress; try again later",
        );
    }
    (
        jar.add(cookie(FLOW_COOKIE, key, 600)),
        redirect(url.as_str()),
    )
        .into_response()
}

/// The redirect back from the server: check `state` and `iss` (RFC 9207), exchange the
/// code, validate the ID token, ask userinfo, start the demo session.
pub async fn callback(
    State(s): State<Arc<DemoState>>,
    jar: CookieJar,
    RawQuery(q): RawQuery,
) -> Response {
    let q: Vec<(String, String)> =
        serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    let param = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let pending = jar
        .get(FLOW_COOKIE)
        .and_then(|c| lock(&s.pending).take(c.value()));
    let jar = jar.add(cookie(FLOW_COOKIE, String::new(), 0));
    let Some(pending) = pending else {
        return error_text(
            &s,
            StatusCode::BAD_REQUEST,
            "this sign-in was not started here or has expired; start again",
        );
    };
    if !ct_eq(
        param("state").unwrap_or("").as_bytes(),
        pending.state.as_bytes(),
    ) {
        return error_text(
            &s,
            StatusCode::BAD_REQUEST,
            "the state does not match this sign-in",
        );
    }
    if let Some(err) = param("error") {
        let description = param("error_description").unwrap_or("");
        return error_text(
            &s,
            StatusCode::BAD_REQUEST,
            &format!("the server answered {err}: {description}"),
        );
    }
    let meta = match s.rp.discover().await {
        Ok(m) => m,
        Err(e) => return error(&s, StatusCode::BAD_GATEWAY, &e),
    };
    if param("iss").is_some_and(|iss| iss != meta.issuer) {
        return error_text(
            &s,
            StatusCode::BAD_REQUEST,
            "the response comes from another issuer (iss)",
        );
    }
    let Some(code) = param("code") else {
        return error_text(&s, StatusCode::BAD_REQUEST, "the response has no code");
    };
    let result = async {
        let (tokens, claims) = s.rp.exchange(&meta, code, &pending).await?;
        let sub = claims["sub"].as_str().unwrap_or_default().to_owned();
        let userinfo = s.rp.userinfo(&meta, &tokens.access_token, &sub).await?;
        anyhow::Ok(DemoSession {
            id_token_claims: claims,
            userinfo,
            tokens,
            csrf: random_token(),
            refreshed: 0,
        })
    }
    .await;
    match result {
        Ok(session) => {
            let key = random_token();
            if !lock(&s.sessions).insert(key.clone(), session) {
                return error_text(
                    &s,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many demo sessions; try again later",
                );
            }
            let max_age = super::SESSION_TTL.as_secs() as i64;
            (jar.add(cookie(SESSION_COOKIE, key, max_age)), redirect("/")).into_response()
        }
        Err(e) => (jar, error(&s, StatusCode::BAD_GATEWAY, &e)).into_response(),
    }
}

/// Uses the refresh token, then asks userinfo again with the new access token.
pub async fn refresh(State(s): State<Arc<DemoState>>, jar: CookieJar, body: Bytes) -> Response {
    let Some((key, mut session)) = session_for_form(&s, &jar, &body) else {
        return error_text(
            &s,
            StatusCode::FORBIDDEN,
            "this form has expired; go back and sign in again",
        );
    };
    let Some(refresh_token) = session.tokens.refresh_token.clone() else {
        return error_text(
            &s,
            StatusCode::BAD_REQUEST,
            "there is no refresh token to use",
        );
    };
    let sub = session.id_token_claims["sub"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let result = async {
        let meta = s.rp.discover().await?;
        let (mut tokens, claims) = s.rp.refresh(&meta, &refresh_token, &sub).await?;
        let userinfo = s.rp.userinfo(&meta, &tokens.access_token, &sub).await?;
        // A server may keep the refresh token unchanged (RFC 6749 section 6).
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token);
        }
        anyhow::Ok((tokens, claims, userinfo))
    }
    .await;
    match result {
        Ok((tokens, claims, userinfo)) => {
            session.tokens = tokens;
            if let Some(c) = claims {
                session.id_token_claims = c;
            }
            session.userinfo = userinfo;
            session.refreshed += 1;
            lock(&s.sessions).insert(key, session);
            redirect("/")
        }
        Err(e) => error(&s, StatusCode::BAD_GATEWAY, &e),
    }
}

/// Ends the demo app's session, then sends the browser to the server's sign-out: its
/// `end_session_endpoint` when discovery offers one (RP-Initiated Logout 1.0, with the ID
/// token as `id_token_hint` and the demo's home page as `post_logout_redirect_uri`), else
/// its `/logout` page.
pub async fn sign_out(State(s): State<Arc<DemoState>>, jar: CookieJar, body: Bytes) -> Response {
    let Some((key, session)) = session_for_form(&s, &jar, &body) else {
        return error_text(
            &s,
            StatusCode::FORBIDDEN,
            "this form has expired; go back and sign in again",
        );
    };
    lock(&s.sessions).take(&key);
    let jar = jar.add(cookie(SESSION_COOKIE, String::new(), 0));
    let target = match s.rp.discover().await {
        Ok(Metadata {
            end_session_endpoint: Some(mut url),
            ..
        }) => {
            {
                let mut q = url.query_pairs_mut();
                if let Some(hint) = &session.tokens.id_token {
                    q.append_pair("id_token_hint", hint);
                }
                q.append_pair("client_id", s.rp.client_id());
                q.append_pair("post_logout_redirect_uri", &s.post_logout_redirect_uri);
            }
            url.to_string()
        }
        Ok(meta) => format!("{}/logout", meta.issuer),
        Err(e) => return (jar, error(&s, StatusCode::BAD_GATEWAY, &e)).into_response(),
    };
    (jar, redirect(&target)).into_response()
}

pub async fn stylesheet() -> Response {
    let mut resp = include_str!("../../static/demo.css").into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    resp
}

pub async fn not_found(State(s): State<Arc<DemoState>>) -> Response {
    error_text(
        &s,
        StatusCode::NOT_FOUND,
        "there is no such page in the demo app",
    )
}

fn signed_in_page(s: &DemoState, session: &DemoSession) -> Response {
    let c = &session.id_token_claims;
    let name = c["name"]
        .as_str()
        .or(c["preferred_username"].as_str())
        .or(c["sub"].as_str())
        .unwrap_or("")
        .to_owned();
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    page(
        s,
        StatusCode::OK,
        &SignedInView {
            name,
            id_token_claims: pretty(c),
            userinfo: pretty(&session.userinfo),
            scope: session.tokens.scope.clone().unwrap_or_default(),
            expires_in: session
                .tokens
                .expires_in
                .map(|s| format!("{s} s"))
                .unwrap_or_else(|| "not stated".into()),
            has_refresh_token: session.tokens.refresh_token.is_some(),
            refreshed: session.refreshed,
            csrf: session.csrf.clone(),
        },
    )
}

fn session(s: &DemoState, jar: &CookieJar) -> Option<(String, DemoSession)> {
    let key = jar.get(SESSION_COOKIE)?.value().to_owned();
    let session = lock(&s.sessions).get(&key)?;
    Some((key, session))
}

/// The session of a posted form whose CSRF token is the session's.
fn session_for_form(s: &DemoState, jar: &CookieJar, body: &[u8]) -> Option<(String, DemoSession)> {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    let presented = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())?;
    let (key, session) = session(s, jar)?;
    ct_eq(presented.as_bytes(), session.csrf.as_bytes()).then_some((key, session))
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave these maps inconsistent: keep serving.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn cookie(name: &'static str, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time::Duration::seconds(max_age))
        .build()
}

fn redirect(url: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(url) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn error(s: &DemoState, status: StatusCode, e: &anyhow::Error) -> Response {
    tracing::warn!(error = format!("{e:#}"), "demo app: sign-in step failed");
    error_text(s, status, &format!("{e:#}"))
}

fn error_text(s: &DemoState, status: StatusCode, message: &str) -> Response {
    page(
        s,
        status,
        &ErrorView {
            message: message.to_owned(),
        },
    )
}

fn page<T: Template>(s: &DemoState, status: StatusCode, view: &T) -> Response {
    let body = match view.render() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "demo template rendering failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let mut resp = (status, axum::response::Html(body)).into_response();
    let h: &mut HeaderMap = resp.headers_mut();
    // The sign-out form ends in a redirect to the server, which `form-action` must allow.
    let csp = format!(
        "default-src 'none'; style-src 'self'; form-action 'self' {}; frame-ancestors 'none'; base-uri 'none'",
        s.issuer_origin
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    resp
}
