//! The one `IntoResponse` for protocol errors: RFC 6749 section 5.2 JSON for the token,
//! introspection and revocation endpoints, RFC 6750 section 3 for bearer-token errors.
//! Internal causes are logged here and never shown.
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::extract::no_store;
use crate::oauth::OAuthError;

pub struct ApiError(pub OAuthError);

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        let status = match &err {
            OAuthError::InvalidClient { .. }
            | OAuthError::InvalidToken(_)
            | OAuthError::MissingToken => StatusCode::UNAUTHORIZED,
            OAuthError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            OAuthError::Internal(cause) if err.is_unavailable() => {
                tracing::warn!(error = format!("{cause:#}"), "database unavailable");
                StatusCode::SERVICE_UNAVAILABLE
            }
            OAuthError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::BAD_REQUEST,
        };
        let mut resp = if matches!(err, OAuthError::MissingToken) {
            // RFC 6750 section 3.1: a request without credentials gets the challenge only.
            status.into_response()
        } else {
            let mut body = json!({ "error": err.code() });
            if let Some(d) = err.description() {
                body["error_description"] = json!(sanitize(&d));
            }
            (status, Json(body)).into_response()
        };
        resp = no_store(resp);
        let h = resp.headers_mut();
        match &err {
            OAuthError::MissingToken => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"latchkey\""),
                );
            }
            // RFC 6749 section 5.2: a 401 for invalid_client must name the scheme the client
            // may use.
            OAuthError::InvalidClient { .. } => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"latchkey\", charset=\"UTF-8\""),
                );
            }
            OAuthError::Internal(_) if status == StatusCode::SERVICE_UNAVAILABLE => {
                h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            OAuthError::InvalidToken(_) | OAuthError::InsufficientScope(_) => {
                let v = format!("Bearer realm=\"latchkey\", error=\"{}\"", err.code());
                if let Ok(v) = HeaderValue::from_str(&v) {
                    h.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            _ => {}
        }
        resp
    }
}

/// RFC 6749 section 5.2: `error_description` is limited to %x20-21 / %x23-5B / %x5D-7E.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if (' '..='~').contains(&c) => c,
            _ => '?',
        })
        .collect()
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError(OAuthError::Internal(anyhow::anyhow!("handler panicked"))).into_response()
}
