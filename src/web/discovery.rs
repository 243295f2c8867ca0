//! GET /.well-known/openid-configuration and /.well-known/oauth-authorization-server: one
//! document serves both (RFC 8414 section 3 allows the OpenID path).
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

pub async fn metadata(State(s): State<AppState>) -> Response {
    let mut resp = s.provider.metadata_json().to_string().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}
