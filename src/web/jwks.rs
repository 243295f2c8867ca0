//! GET /jwks: the public signing keys (RFC 7517 section 5), retired keys included until
//! the tokens they signed have expired.
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{MethodRouter, get};

use super::AppState;

/// The route, with its `Cache-Control` value made once from `keys.jwks_max_age`.
pub fn route(max_age: u64) -> MethodRouter<AppState> {
    let cache = HeaderValue::try_from(format!("public, max-age={max_age}"))
        .expect("digits are a valid header value");
    get(move |State(s): State<AppState>| async move {
        // The document is shared, not copied: a clone of it is a reference count.
        json_document(s.provider.keys.jwks_json(), cache)
    })
}

/// A pre-serialised JSON document with its caching policy.
pub(super) fn json_document(body: bytes::Bytes, cache_control: HeaderValue) -> Response {
    let mut resp = Response::new(Body::from(body));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, cache_control);
    resp
}
