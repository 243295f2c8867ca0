//! GET /healthz (the process answers) and /readyz (the database answers and the server is
//! not shutting down).
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(s): State<AppState>) -> (StatusCode, &'static str) {
    if s.shutting_down.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    }
    // Bounded: a probe that hangs is no better than one that fails.
    let ping = tokio::time::timeout(std::time::Duration::from_secs(2), s.readiness.ping()).await;
    match ping.unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within 2 s"))) {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}
