//! `/forward-auth` and `/forward-auth/{*path}`, any method: the gateway subrequest of nginx
//! `auth_request`, Traefik `ForwardAuth` and Envoy `ext_authz` (HTTP mode, which appends the
//! original path). Reads the credentials and the original request, asks
//! `Provider::forward_auth`, and answers 200 with identity headers, 401/403 with an RFC 6750
//! challenge, or a sign-in redirect. docs/gateways.md is the header contract.
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use super::AppState;
use super::client_addr::is_trusted;
use super::error::ApiError;
use super::extract::{AuthorizationProblem, authorization, no_store};
use super::pages::session_cookie_name;
use crate::domain::Scope;
use crate::oauth::OAuthError;
use crate::oauth::forward_auth::{Credential, Demands, Target, Verdict};

const PREFIX: &str = "/forward-auth";

pub async fn forward_auth(
    State(s): State<AppState>,
    extensions: Extensions,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Response, ApiError> {
    let p = &s.provider;
    let credential = match authorization(&headers) {
        Ok(None) => Credential::None,
        Ok(Some(v)) => match v.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                Credential::Bearer(token.trim())
            }
            _ => Credential::Malformed,
        },
        Err(AuthorizationProblem::Malformed | AuthorizationProblem::Repeated) => {
            Credential::Malformed
        }
    };
    // The X-Forwarded-* headers describe the original request only when the gateway wrote
    // them (docs/gateways.md).
    let trusted = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(a)| is_trusted(a.ip(), &p.settings.http.trusted_proxies));
    if !trusted
        && (headers.contains_key("x-forwarded-uri") || headers.contains_key("x-forwarded-host"))
    {
        // A gateway whose address is missing from http.trusted_proxies: judging the request
        // by the Host header and "/" instead would apply the wrong rule, so refuse (fail
        // closed) and say why in the log.
        tracing::warn!(
            "forward-auth request with X-Forwarded-Uri/Host from a caller not in http.trusted_proxies"
        );
        return Err(OAuthError::invalid_request(
            "X-Forwarded-Host and X-Forwarded-Uri are accepted only from http.trusted_proxies",
        )
        .into());
    }
    let target = target(&headers, &method, &uri, trusted);
    let demands = demands(&headers)?;
    let cookie = jar
        .get(session_cookie_name(p))
        .map(|c| c.value().to_owned());
    let verdict = p
        .forward_auth(credential, cookie.as_deref(), &target, demands)
        .await?;
    let sign_in_status = header_str(&headers, "x-auth-redirect-status") == Some("401");
    Ok(no_store(respond(verdict, sign_in_status)))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The original request: `X-Forwarded-Method/Proto/Host/Uri` from a trusted gateway
/// (Traefik, and the documented nginx configuration), else the `Host` header, the method
/// and the path after `/forward-auth` (Envoy `ext_authz`, which sends the original method
/// and `path_prefix` + the original path).
fn target(headers: &HeaderMap, method: &Method, uri: &Uri, trusted: bool) -> Target {
    // Lossy: a URI with bytes that are not UTF-8 must still be judged by its path, never
    // fall back to "/".
    let forwarded = |name: &str| {
        trusted
            .then(|| headers.get(name))
            .flatten()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let suffix = uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .strip_prefix(PREFIX)
        .unwrap_or("/");
    let suffix = if suffix.starts_with('/') { suffix } else { "/" };
    Target {
        method: forwarded("x-forwarded-method").unwrap_or_else(|| method.as_str().to_owned()),
        scheme: forwarded("x-forwarded-proto"),
        host: forwarded("x-forwarded-host")
            .or_else(|| header_str(headers, "host").map(str::to_owned)),
        uri: forwarded("x-forwarded-uri").unwrap_or_else(|| suffix.to_owned()),
    }
}

/// `X-Auth-Require-Scope` (space-separated scopes) and `X-Auth-Require-Audience` (one per
/// header, or comma-separated). They only add to the configured demands, so accepting them
/// from any caller cannot weaken a rule.
fn demands(headers: &HeaderMap) -> Result<Demands, OAuthError> {
    let mut d = Demands::default();
    for v in headers.get_all("x-auth-require-scope") {
        let s = v
            .to_str()
            .ok()
            .and_then(|s| Scope::parse(s).ok())
            .ok_or_else(|| OAuthError::invalid_request("malformed X-Auth-Require-Scope"))?;
        d.scopes = d.scopes.union(&s);
    }
    for v in headers.get_all("x-auth-require-audience") {
        let s = v
            .to_str()
            .map_err(|_| OAuthError::invalid_request("malformed X-Auth-Require-Audience"))?;
        d.audiences.extend(
            s.split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
        );
    }
    Ok(d)
}

fn respond(verdict: Verdict, sign_in_status: bool) -> Response {
    match verdict {
        Verdict::Allow(id) => {
            let mut resp = StatusCode::OK.into_response();
            let h = resp.headers_mut();
            let mut set = |name: &str, value: &str| {
                if let (Ok(n), Ok(v)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(value),
                ) {
                    h.insert(n, v);
                }
            };
            set("x-auth-subject", &id.subject);
            set("x-auth-client-id", id.client_id.as_deref().unwrap_or(""));
            set("x-auth-scopes", &id.scope.to_string());
            set(
                "x-auth-method",
                if id.client_id.is_some() {
                    "token"
                } else {
                    "session"
                },
            );
            for (name, value) in &id.claim_headers {
                set(name, value);
            }
            resp
        }
        Verdict::Unauthenticated => ApiError::from(OAuthError::MissingToken).into_response(),
        Verdict::InvalidToken(why) => {
            challenge(StatusCode::UNAUTHORIZED, "invalid_token", why, None)
        }
        Verdict::InsufficientScope(scope) => challenge(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the access token lacks a scope this route requires",
            Some(&scope),
        ),
        Verdict::SignIn(url) => {
            // nginx `auth_request` accepts only 2xx, 401 and 403, so the documented nginx
            // configuration asks for a 401 and redirects to `Location` itself.
            let status = if sign_in_status {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::FOUND
            };
            let mut resp = status.into_response();
            if let Ok(v) = HeaderValue::from_str(url.as_str()) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            if sign_in_status {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"latchkey\""),
                );
            }
            resp
        }
    }
}

/// RFC 6750 section 3: `error`, `error_description` and, for insufficient_scope, `scope`.
fn challenge(status: StatusCode, code: &str, why: &str, scope: Option<&Scope>) -> Response {
    let mut v = format!("Bearer realm=\"latchkey\", error=\"{code}\", error_description=\"{why}\"");
    if let Some(scope) = scope {
        v.push_str(&format!(", scope=\"{scope}\""));
    }
    let body = serde_json::json!({ "error": code, "error_description": why });
    let mut resp = (status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&v) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}
