//! GET /.well-known/openid-configuration and /.well-known/oauth-authorization-server: one
//! document serves both (RFC 8414 section 3 allows the OpenID path).
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::Response;

use super::AppState;
use super::jwks::json_document;

pub async fn metadata(State(s): State<AppState>) -> Response {
    json_document(
        s.provider.metadata_json(),
        HeaderValue::from_static("public, max-age=300"),
    )
}
