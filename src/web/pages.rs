//! HTML responses: rendering a view with the security headers every page carries, the
//! session and CSRF cookies, and the human error page.
use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use super::extract::{MAX_BODY, is_form, no_store};
use super::ui::Chrome;
use super::views::ErrorView;
use crate::crypto::{ct_eq, random_token};
use crate::oauth::{OAuthError, Params, Provider};

const CSRF_COOKIE: &str = "latchkey_csrf";

/// Cookie names; with https the `__Host-` prefix pins them to this origin (RFC 6265bis
/// section 4.1.3.2). A session cookie shared with sibling hosts (`session.cookie_domain`)
/// cannot be `__Host-` (that prefix forbids `Domain`), so it is `__Secure-` (4.1.3.1).
pub fn session_cookie_name(p: &Provider) -> &'static str {
    match (
        p.settings.is_https(),
        p.settings.session.cookie_domain.is_some(),
    ) {
        (true, false) => "__Host-latchkey_session",
        (true, true) => "__Secure-latchkey_session",
        (false, _) => "latchkey_session",
    }
}

fn csrf_cookie_name(p: &Provider) -> String {
    if p.settings.is_https() {
        format!("__Host-{CSRF_COOKIE}")
    } else {
        CSRF_COOKIE.to_owned()
    }
}

fn cookie(p: &Provider, name: String, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .secure(p.settings.is_https())
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time::Duration::seconds(max_age))
        .build()
}

pub fn session_cookie(p: &Provider, value: String) -> Cookie<'static> {
    with_session_domain(
        p,
        cookie(
            p,
            session_cookie_name(p).to_owned(),
            value,
            p.settings.tokens.session_ttl as i64,
        ),
    )
}

/// A cookie of these pages' kind (HttpOnly, SameSite=Lax, Secure with https) that lives
/// `max_age` seconds, for state of a few minutes (a pending sign-in's browser binding).
pub fn short_cookie(p: &Provider, name: &str, value: String, max_age: i64) -> Cookie<'static> {
    cookie(p, name.to_owned(), value, max_age)
}

/// A cookie that makes the browser drop the session cookie (same name, domain, path and
/// flags).
pub fn expired_session_cookie(p: &Provider) -> Cookie<'static> {
    with_session_domain(
        p,
        cookie(p, session_cookie_name(p).to_owned(), String::new(), 0),
    )
}

fn with_session_domain(p: &Provider, mut c: Cookie<'static>) -> Cookie<'static> {
    if let Some(domain) = p.settings.session.cookie_domain() {
        c.set_domain(domain);
    }
    c
}

/// The CSRF token for a form: a keyed hash of a random per-browser cookie, so a page on
/// another site can neither read nor forge it (double-submit, signed).
pub fn csrf_token(p: &Provider, jar: CookieJar) -> (CookieJar, String) {
    let name = csrf_cookie_name(p);
    let (jar, value) = match jar.get(&name).map(|c| c.value().to_owned()) {
        Some(v) if !v.is_empty() && v.len() <= 128 => (jar, v),
        _ => {
            let v = random_token();
            let c = cookie(
                p,
                name,
                v.clone(),
                p.settings.tokens.interaction_ttl as i64 * 24,
            );
            (jar.add(c), v)
        }
    };
    let token = p.hasher.hash(&format!("csrf\n{value}"));
    (jar, token)
}

/// A form posted from one of these pages: a form body within bounds whose CSRF token belongs
/// to this browser. Anything else gets the page to answer with (403 for a bad token).
pub fn page_form(
    p: &Provider,
    chrome: &Chrome,
    jar: &CookieJar,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Params, Box<Response>> {
    if !is_form(headers) {
        return Err(Box::new(error_page(
            chrome,
            &OAuthError::invalid_request("the body must be a form"),
        )));
    }
    if body.len() > MAX_BODY {
        return Err(Box::new(error_page(
            chrome,
            &OAuthError::invalid_request("the form is too large"),
        )));
    }
    let form = Params::parse(body).map_err(|e| Box::new(error_page(chrome, &e)))?;
    if !csrf_ok(p, jar, form.get("csrf_token")) {
        let mut page = message_page(
            chrome,
            StatusCode::FORBIDDEN,
            &chrome.t.error_invalid_title,
            &chrome.t.error_form_expired,
            None,
        );
        *page.status_mut() = StatusCode::FORBIDDEN;
        return Err(Box::new(page));
    }
    Ok(form)
}

pub fn csrf_ok(p: &Provider, jar: &CookieJar, presented: Option<&str>) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    let Some(cookie) = jar.get(&csrf_cookie_name(p)) else {
        return false;
    };
    let expected = p.hasher.hash(&format!("csrf\n{}", cookie.value()));
    ct_eq(expected.as_bytes(), presented.as_bytes())
}

/// `form-action` must allow the client's redirect URI: browsers apply it to the redirect
/// that follows a form submission.
pub fn form_action_source(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u.origin().ascii_serialization(),
        Ok(u) => format!("{}:", u.scheme()),
        Err(_) => String::new(),
    }
}

/// Renders a page with CSP, framing, referrer and caching headers.
pub fn render<T: Template>(
    chrome: &Chrome,
    status: StatusCode,
    view: &T,
    form_action_extra: Option<&str>,
) -> Response {
    render_page(chrome, status, view, form_action_extra, false)
}

/// `render` for a page that loads this site's scripts (`/static/*.js`, e.g. passkeys) and
/// lets them call back to this site: `script-src 'self'; connect-src 'self'`, still no
/// inline script.
pub fn render_scripted<T: Template>(
    chrome: &Chrome,
    status: StatusCode,
    view: &T,
    form_action_extra: Option<&str>,
) -> Response {
    render_page(chrome, status, view, form_action_extra, true)
}

fn render_page<T: Template>(
    chrome: &Chrome,
    status: StatusCode,
    view: &T,
    form_action_extra: Option<&str>,
    scripts: bool,
) -> Response {
    let body = match view.render() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let form_action = match form_action_extra {
        Some(extra) if !extra.is_empty() => format!("'self' {extra}"),
        _ => "'self'".to_owned(),
    };
    // An operator's logo may live on another origin (branding.logo as an https URL).
    let img_src = match &chrome.brand.logo_origin {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    let scripts = if scripts {
        " script-src 'self'; connect-src 'self';"
    } else {
        ""
    };
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src {img_src}; font-src 'self';{scripts} form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut resp = (status, Html(body)).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    no_store(resp)
}

/// The human error page for requests that cannot be sent back to a client. The protocol's
/// own description (English, technical) is shown as the detail under translated text.
pub fn error_page(chrome: &Chrome, err: &OAuthError) -> Response {
    let t = chrome.t;
    match err {
        OAuthError::Internal(cause) if err.is_unavailable() => {
            tracing::warn!(error = format!("{cause:#}"), "database unavailable");
            message_page(
                chrome,
                StatusCode::SERVICE_UNAVAILABLE,
                &t.error_unavailable_title,
                &t.error_unavailable_message,
                None,
            )
        }
        OAuthError::Internal(cause) => {
            tracing::error!(error = format!("{cause:#}"), "authorization request failed");
            message_page(
                chrome,
                StatusCode::INTERNAL_SERVER_ERROR,
                &t.error_internal_title,
                &t.error_internal_message,
                None,
            )
        }
        other => message_page(
            chrome,
            StatusCode::BAD_REQUEST,
            &t.error_invalid_title,
            &t.error_invalid_message,
            Some(
                &other
                    .description()
                    .unwrap_or_else(|| other.code().to_owned()),
            ),
        ),
    }
}

/// An error page with a title, a message and an optional detail line.
pub fn message_page(
    chrome: &Chrome,
    status: StatusCode,
    title: &str,
    message: &str,
    detail: Option<&str>,
) -> Response {
    let view = ErrorView {
        chrome,
        title: title.to_owned(),
        message: message.to_owned(),
        detail: detail.map(str::to_owned),
        status: status.as_u16(),
    };
    render(chrome, status, &view, None)
}

pub fn redirect(url: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(url) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    no_store(resp)
}
