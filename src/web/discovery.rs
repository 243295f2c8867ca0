//! GET /.well-known/openid-configuration and /.well-known/oauth-authorization-server.
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

fn cached(s: &AppState) -> Response {
    let mut resp = Json(s.provider.metadata()).into_response();
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
