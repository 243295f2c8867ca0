//! GET /.well-known/openid-configuration and /.well-known/oauth-authorization-server.
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

fn cached(s: &AppState) -> Response {
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

pub async fn openid_configuration(State(s): State<AppState>) -> Response {
    cached(&s)
}

pub async fn oauth_authorization_server(State(s): State<AppState>) -> Response {
    cached(&s)
}
