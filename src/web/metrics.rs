//! GET /metrics (Prometheus) and the middleware counting requests by route template and
//! status.
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{AppState, ClientAddr};

/// Records every answered request; outermost layer, so panics (500) and timeouts (503)
/// are counted too.
pub async fn track(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    // A clone of the route's shared template (an `Arc`), not a copy of the text.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let resp = next.run(req).await;
    s.provider.metrics.record_request(
        method,
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// /metrics on the main listener: only for the addresses in `metrics.allow` (the real
/// client address, so a request relayed by a local reverse proxy is judged by its origin);
/// anyone else is told there is no such page.
pub async fn metrics_public(State(s): State<AppState>, ClientAddr(ip): ClientAddr) -> Response {
    let allow = &s.provider.settings.metrics.allow;
    match ip {
        Some(ip) if allow.iter().any(|net| net.contains(&ip)) => exposition(&s),
        _ => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

/// /metrics on the separate `metrics.listen` listener, which the network protects.
pub async fn metrics_admin(State(s): State<AppState>) -> Response {
    exposition(&s)
}

fn exposition(s: &AppState) -> Response {
    let now = crate::oauth::now();
    let mut counts: Vec<(&'static str, &'static str, i64)> = Vec::new();
    for k in s.provider.keys.list() {
        let state = if k.activates_at > now {
            "next"
        } else if k.retired_at.is_some_and(|r| r <= now) {
            "retired"
        } else {
            "active"
        };
        match counts
            .iter_mut()
            .find(|(a, st, _)| *a == k.alg.as_str() && *st == state)
        {
            Some(c) => c.2 += 1,
            None => counts.push((k.alg.as_str(), state, 1)),
        }
    }
    let body = s
        .provider
        .metrics
        .render(&counts, Some(s.readiness.pool_usage()));
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    resp
}
