//! GET /jwks: the public signing keys (RFC 7517 section 5), retired keys included until
//! the tokens they signed have expired.
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

pub async fn jwks(State(s): State<AppState>) -> Response {
    let body = s.provider.keys.jwks_json();
    let max_age = s.provider.settings.keys.jwks_max_age;
    let cache = format!("public, max-age={max_age}");
    let mut resp = body.to_string().into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&cache) {
        h.insert(header::CACHE_CONTROL, v);
    }
    resp
}
